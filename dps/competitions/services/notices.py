"""Award notices (C8-C10): publishing them, the open-data publication each one queues, and the reminders for a
notice still due after the contract.

- The contract award notice makes an award public: the OCDS award release, its public notice page and, from
  £30,000 including VAT, the contracts register all read `AwardNotice.published_at`, so nothing else has to be done
  for them. Under PA 2023 the buyer publishes it before the standstill, which it starts
  (dps.competitions.services.awarding.publish_award_notice); under PCR 2015 it follows the contract.
- The notice due within 30 days of the contract (C9: PCR 2015, the contract award notice; PA 2023, the contract
  details notice) is published automatically as the contract is made when nothing more is needed from the buyer
  (`publish_contract_notice_if_ready`, in the confirmation's transaction). Otherwise the buyer gives what is
  missing and publishes it (`publish_contract_notice`); until then the daily jobs email the buyer
  (`send_notice_reminders`) and the buyer's home page lists it, marked overdue after its 30 days
  (`notices_to_publish`).

Each publication queues an outbox row (topic OCDS_PUBLICATION_TOPIC) in its transaction; the transparency domain
delivers it (dps.transparency.publication).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.audit.services import Actor, record
from dps.competitions.models import AwardNotice, Competition
from dps.competitions.rules import (
    clean_kpis,
    contract_notice_name,
    contract_notice_needs,
    notice_overdue,
)
from dps.competitions.services.loading import (
    audit_competition,
    buyer_organisation_ids,
    competition_for_buyer,
)
from dps.dates import format_london
from dps.errors import Conflict, ValidationFailed
from dps.identity.models import Membership, Role, User
from dps.identity.services import SignedInUser, actor_of
from dps.mail import page_link, queue_email
from dps.outbox.models import OutboxMessage
from dps.outbox.services import enqueue

# Outbox topic of the open-data publication of a notice: payload {"competition_id": int, "release": "award" |
# "contract"}; one message per notice and release, whatever happens after.
OCDS_PUBLICATION_TOPIC = "ocds-publication"
REMINDERS = Actor.system("notice-reminders")


async def notice_of(session: AsyncSession, competition_id: int) -> AwardNotice | None:
    return await session.scalar(sa.select(AwardNotice).where(AwardNotice.competition_id == competition_id))


async def enqueue_ocds_publication(session: AsyncSession, competition_id: int, release: str, now: datetime) -> None:
    """Queue the publication of one OCDS release of a competition, in the caller's transaction; keyed by the
    release and the moment of its publication (an award notice published again is a new publication)."""
    await enqueue(session, topic=OCDS_PUBLICATION_TOPIC,
                  dedupe_key=f"ocds:competition:{competition_id}:{release}:{now.timestamp():.6f}",
                  payload={"competition_id": competition_id, "release": release}, now=now)


def _notice_snapshot(notice: AwardNotice) -> dict[str, Any]:
    return {"notice_id": notice.id, "published_at": notice.published_at,
            "contract_notice_published_at": notice.contract_notice_published_at, "publish_by": notice.publish_by,
            "kpis": list(notice.kpis)}


async def _publish_contract_notice(session: AsyncSession, notice: AwardNotice, competition: Competition,
                                   actor: Actor, now: datetime) -> None:
    before = _notice_snapshot(notice)
    notice.contract_notice_published_at = now
    if notice.published_at is None:  # PCR 2015: the contract award notice is this notice
        notice.published_at = now
        await enqueue_ocds_publication(session, competition.id or 0, "award", now)
    await enqueue_ocds_publication(session, competition.id or 0, "contract", now)
    await audit_competition(session, actor, "contract_notice_published", competition, now, before,
                            {**_notice_snapshot(notice), "notice": contract_notice_name(notice.regime),
                             "contracts_register": notice.contracts_finder_required})


async def publish_contract_notice_if_ready(session: AsyncSession, notice: AwardNotice, competition: Competition,
                                           actor: Actor, now: datetime) -> bool:
    """C9 as the contract is made, in the caller's transaction (not committed): publish the notice at once unless
    the buyer must still give something for it. True if it was published."""
    if notice.contract_id is None or notice.contract_notice_published_at is not None:
        return False
    if contract_notice_needs(notice.regime, notice.value_incl_vat_pence, notice.kpis):
        return False
    await _publish_contract_notice(session, notice, competition, actor, now)
    return True


async def publish_contract_notice(session: AsyncSession, user: SignedInUser, competition_id: int, *,
                                  kpis: Sequence[str], now: datetime) -> AwardNotice:
    """C9: the buyer publishes the notice that follows the contract, giving what it still needs (the key
    performance indicators of a PA 2023 contract over £5m)."""
    competition = await competition_for_buyer(session, user, competition_id, now, for_update=True)
    notice = await session.scalar(sa.select(AwardNotice).where(AwardNotice.competition_id == competition.id)
                                  .with_for_update())
    if notice is None or notice.contract_id is None:
        raise Conflict("This notice can be published once the contract is made")
    name = contract_notice_name(notice.regime)
    if notice.contract_notice_published_at is not None:
        raise Conflict(f"The {name} has already been published")
    given = clean_kpis(kpis)
    if given:
        notice.kpis = list(given)
    missing = contract_notice_needs(notice.regime, notice.value_incl_vat_pence, notice.kpis)
    if missing:
        raise ValidationFailed(f"Give {missing[0]} before publishing the {name}", field="kpi-1")
    await _publish_contract_notice(session, notice, competition, actor_of(user), now)
    await session.commit()
    return notice


# --- what is still to publish: the buyer's list and the daily reminders -----------------------------------------


@dataclass(frozen=True)
class NoticeToPublish:
    competition_id: int
    title: str
    notice_name: str  # "contract award notice" / "contract details notice"
    publish_by: datetime | None
    overdue: bool
    needs: tuple[str, ...]


def _unpublished_after_contract() -> Any:
    return (sa.select(AwardNotice, Competition.title).join(Competition, Competition.id == AwardNotice.competition_id)
            .where(AwardNotice.contract_id.is_not(None), AwardNotice.contract_notice_published_at.is_(None))
            .order_by(AwardNotice.publish_by, AwardNotice.id))


def _to_publish(notice: AwardNotice, title: str, now: datetime) -> NoticeToPublish:
    return NoticeToPublish(
        competition_id=notice.competition_id, title=title, notice_name=contract_notice_name(notice.regime),
        publish_by=notice.publish_by, overdue=notice_overdue(now, notice.publish_by, None),
        needs=contract_notice_needs(notice.regime, notice.value_incl_vat_pence, notice.kpis))


async def notices_to_publish(session: AsyncSession, user: SignedInUser, now: datetime) -> list[NoticeToPublish]:
    """The notices due after a contract that the user's buyer organisations have still to publish, oldest due
    first; each marked overdue once its 30 days have passed."""
    rows = (await session.execute(_unpublished_after_contract().where(
        AwardNotice.buyer_organisation_id.in_(buyer_organisation_ids(user))))).all()
    return [_to_publish(notice, title, now) for notice, title in rows]


async def _buyer_emails(session: AsyncSession, organisation_id: int) -> list[str]:
    return list((await session.scalars(
        sa.select(User.email).join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation_id, Membership.role == Role.BUYER,
               User.is_active.is_(True)).distinct().order_by(User.email))).all())


async def send_notice_reminders(session: AsyncSession, now: datetime) -> int:
    """Email the buyers of every notice still to publish after its contract: once when it is due, once more when
    it is overdue. Idempotent (keyed on the notice and the stage), so running it hourly is harmless."""
    sent = 0
    for notice, title in (await session.execute(_unpublished_after_contract())).all():
        item = _to_publish(notice, title, now)
        stage = "overdue" if item.overdue else "due"
        key = f"award-notice:{notice.id}:{stage}"
        if await session.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.dedupe_key.like(f"email:{key}:%"))):
            continue
        due = format_london(item.publish_by, "%-d %B %Y") if item.publish_by else "30 days after the contract"
        if item.overdue:
            subject = f"Overdue: the {item.notice_name} for {title} was due by {due}"
        else:
            subject = f"Publish the {item.notice_name} for {title} by {due}"
        lines = [f"The contract for {title} has been made. Its {item.notice_name} must be published within 30 "
                 f"days of the contract, by {due}."]
        if item.overdue:
            lines.append("That date has passed: please publish it now.")
        if item.needs:
            lines.append(f"Before it can be published, give {item.needs[0]}.")
        lines.append(f"Publish it from the competition's page: "
                     f"{page_link(f'/buyer/competitions/{notice.competition_id}')}")
        emails = await _buyer_emails(session, notice.buyer_organisation_id)
        for email in emails:
            await queue_email(session, to=email, subject=subject, body="\n\n".join(lines),
                              dedupe_key=f"{key}:{email}", now=now)
        if not emails:
            continue
        await record(session, actor=REMINDERS, action="award_notice.reminder_sent", entity_type="competition",
                     entity_id=notice.competition_id, now=now,
                     after={"notice_id": notice.id, "stage": stage, "to": emails, "publish_by": notice.publish_by})
        sent += 1
    await session.commit()
    return sent


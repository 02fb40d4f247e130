"""Loading what is public about competitions and building OCDS releases, packages and records from it.

Only published competitions appear (drafts never). Before the tender deadline a competition yields its tender
release alone, which carries nothing about bids (C5); the award release exists only once the contract award
notice is published (C8), when the competition has long closed, and the contract release once the notice that
follows the contract is published (C9).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.agreements.models import Agreement, Category
from dps.competitions.models import AwardNotice, Competition
from dps.contracts.services import contracts_of_competitions, milestones_of_contracts
from dps.forms import whole_number
from dps.funds.models import Commitment, CommitmentSource, LedgerEntry, LedgerKind
from dps.identity.models import Organisation
from dps.settings import Settings
from dps.transparency import ocds

PAGE_SIZE = 100


def _org(row: Organisation) -> ocds.OrganisationData:
    return ocds.OrganisationData(id=row.id or 0, name=row.name, ods_code=row.ods_code,
                                 companies_house_number=row.companies_house_number)


async def load_processes(session: AsyncSession, competition_ids: list[int] | None = None) -> list[ocds.ProcessData]:
    """Every published competition (or those named) as public process data, ordered by id."""
    query = (sa.select(Competition, col(Category.name), col(Agreement.regime))
             .join(Category, col(Category.id) == Competition.category_id)
             .join(Agreement, col(Agreement.id) == Category.agreement_id)
             .where(col(Competition.published_at).is_not(None)).order_by(col(Competition.id)))
    if competition_ids is not None:
        query = query.where(col(Competition.id).in_(competition_ids))
    rows = (await session.execute(query)).all()
    if not rows:
        return []
    ids = [competition.id for competition, _, _ in rows]
    notices = {n.competition_id: n for n in (await session.scalars(
        sa.select(AwardNotice).where(col(AwardNotice.competition_id).in_(ids)))).all()}
    contracts = await contracts_of_competitions(session, ids)
    milestones = await milestones_of_contracts(session, [c.id or 0 for c in contracts.values()])
    payments = await _payments(session, [f"competition:{cid}" for cid in contracts])
    org_ids = {competition.buyer_organisation_id for competition, _, _ in rows} | {
        n.supplier_organisation_id for n in notices.values()}
    organisations = {o.id: _org(o) for o in (await session.scalars(
        sa.select(Organisation).where(col(Organisation.id).in_(org_ids)))).all()}
    await session.commit()
    out = []
    for competition, category_name, regime in rows:
        notice = notices.get(competition.id)
        award = None
        if notice is not None and notice.published_at is not None:
            award = ocds.AwardData(
                made_public_at=notice.published_at, decided_at=notice.award_decided_at,
                supplier=organisations[notice.supplier_organisation_id], value_pence=notice.value_pence,
                value_incl_vat_pence=notice.value_incl_vat_pence, bids_received=notice.bids_received,
                standstill_ends_at=notice.standstill_ends_at)
        contract_row = contracts.get(competition.id)
        contract = None
        if (contract_row is not None and award is not None and notice is not None
                and notice.contract_notice_published_at is not None):
            contract = ocds.ContractData(
                id=contract_row.id or 0, title=contract_row.title, created_at=contract_row.created_at,
                starts_on=contract_row.starts_on, ends_on=contract_row.ends_on, value_pence=contract_row.value_pence,
                state=contract_row.state,
                milestones=tuple(ocds.MilestoneData(m.sequence, m.title, m.due_on, m.amount_pence, m.state)
                                 for m in milestones.get(contract_row.id or 0, ())),
                payments=tuple(payments.get(f"competition:{competition.id}", ())),
                published_at=notice.contract_notice_published_at, kpis=tuple(notice.kpis))
        out.append(ocds.ProcessData(
            competition_id=competition.id or 0, title=competition.title, description=competition.requirement,
            regime=regime, category_name=category_name, buyer=organisations[competition.buyer_organisation_id],
            estimated_value_pence=competition.estimated_value_pence,
            published_at=competition.published_at,  # type: ignore[arg-type]  # filtered on not null
            clarification_deadline=competition.clarification_deadline, tender_deadline=competition.tender_deadline,
            contract_starts_on=competition.contract_starts_on, contract_ends_on=competition.contract_ends_on,
            criteria=tuple(ocds.CriterionData(str(c.get("title", c.get("key", ""))), int(c.get("weight", 0)))
                           for c in competition.criteria),
            cancelled_at=competition.cancelled_at, cancel_reason=competition.cancel_reason,
            award=award, contract=contract))
    return out


async def _payments(session: AsyncSession, references: list[str]) -> dict[str, list[ocds.PaymentData]]:
    """Payments (and refunds, negative) recorded in the fund ledger against each award's commitment."""
    if not references:
        return {}
    rows = (await session.execute(
        sa.select(col(Commitment.reference), LedgerEntry)
        .join(LedgerEntry, col(LedgerEntry.commitment_id) == Commitment.id)
        .where(col(Commitment.source) == CommitmentSource.AWARD, col(Commitment.reference).in_(references),
               col(LedgerEntry.kind).in_([LedgerKind.PAY, LedgerKind.REFUND]))
        .order_by(col(LedgerEntry.at), col(LedgerEntry.id)))).all()
    out: dict[str, list[ocds.PaymentData]] = defaultdict(list)
    for reference, entry in rows:
        sign = -1 if entry.kind == LedgerKind.REFUND else 1
        out[reference].append(ocds.PaymentData(id=entry.id or 0, at=entry.at,
                                               amount_pence=sign * abs(entry.amount_pence)))
    return out


def _sort_key(release: dict[str, Any]) -> tuple[str, str]:
    return release["date"], release["id"]


async def all_releases(session: AsyncSession, settings: Settings) -> list[dict[str, Any]]:
    """Every release of every published competition, in date order (then id)."""
    releases = [r for process in await load_processes(session)
                for r in ocds.releases_for(process, settings.ocid_prefix)]
    return sorted(releases, key=_sort_key)


def package(releases: list[dict[str, Any]], settings: Settings, *, uri: str, published_at: datetime,
            links: dict[str, str] | None = None) -> dict[str, Any]:
    return ocds.release_package(releases, uri=uri, published_at=published_at,
                                publisher_name="NHS Innovation DPS", publisher_uri=settings.base_url, links=links)


@dataclass(frozen=True)
class ReleasePage:
    releases: list[dict[str, Any]]
    has_next: bool


async def releases_page(session: AsyncSession, settings: Settings, *, since: datetime | None, page: int,
                        page_size: int = PAGE_SIZE) -> ReleasePage:
    releases = await all_releases(session, settings)
    if since is not None:
        releases = [r for r in releases if _parse(r["date"]) >= since]
    start = (page - 1) * page_size
    return ReleasePage(releases[start:start + page_size], len(releases) > start + page_size)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def competition_id_of(ocid: str, prefix: str) -> int | None:
    head, _, tail = ocid.rpartition("-")
    return whole_number(tail) if head == prefix else None


async def record(session: AsyncSession, settings: Settings, ocid: str) -> dict[str, Any] | None:
    competition_id = competition_id_of(ocid, settings.ocid_prefix)
    if competition_id is None:
        return None
    processes = await load_processes(session, [competition_id])
    if not processes:
        return None
    return ocds.compile_record(ocid, ocds.releases_for(processes[0], settings.ocid_prefix))


async def export_package(sessions: Any, settings: Settings, now: datetime,
                         progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The whole publication as one release package (for `dps export-ocds`); `progress(done, total)` per process."""
    async with sessions() as session:
        processes = await load_processes(session)
    releases: list[dict[str, Any]] = []
    for done, process in enumerate(processes, start=1):
        releases.extend(ocds.releases_for(process, settings.ocid_prefix))
        if progress:
            progress(done, len(processes))
    releases.sort(key=_sort_key)
    return package(releases, settings, uri=f"{settings.base_url}/api/v1/ocds/releases", published_at=now)

"""Contracts: made when an award is confirmed, read by payments, transparency and the portals. The supplier marks
a milestone delivered, the buyer accepts or rejects it (`deliver_milestone`, `accept_milestone`,
`reject_milestone`: each commits with its audit event and the email to the other side); payments move an accepted
milestone on.

`add_contract`, `add_milestones` and `move_milestone` add to the caller's transaction and never commit: a contract is
made in the same transaction as the award that makes it (and its fund commitment), and a milestone moves in the same
transaction as the payment that moves it, with that payment's audit event.

Reading checks access: a contract of an organisation the user does not belong to is NotFound, never a hint that
it exists.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.audit.models import AuditEvent
from dps.audit.services import Actor, record
from dps.contracts.models import Contract, ContractMilestone
from dps.contracts.rules import (
    MILESTONES,
    ContractState,
    Milestone,
    MilestoneEvent,
    MilestoneState,
    check_delivery_note,
    check_milestones,
    check_rejection_reason,
    milestone_move,
)
from dps.db import changed_rows, table_of
from dps.errors import Conflict, NotFound
from dps.identity.models import OrganisationKind, Role
from dps.identity.services import SignedInUser, active_member_emails, actor_of
from dps.mail import page_link, queue_email

_MILESTONE_TABLE = table_of(ContractMilestone)


def _buyer_organisation_ids(user: SignedInUser) -> frozenset[int]:
    return frozenset(m.organisation_id for m in user.memberships
                     if m.organisation_kind is OrganisationKind.BUYER and m.role is Role.BUYER)


def _supplier_organisation_ids(user: SignedInUser) -> frozenset[int]:
    return user.organisation_ids_of_kind(OrganisationKind.SUPPLIER)


# --- making a contract ----------------------------------------------------------------------------------


def add_contract(session: AsyncSession, *, competition_id: int, bid_id: int, buyer_organisation_id: int,
                 supplier_organisation_id: int, title: str, value_pence: int, vat_pence: int, starts_on: date,
                 ends_on: date, fund_lines: Sequence[tuple[int, int]], milestones: Sequence[Milestone],
                 actor: Actor, now: datetime) -> Contract:
    """The contract of a confirmed award, added to the caller's transaction, not flushed: the caller flushes it
    with whatever else needs an id, then calls `add_milestones`. `fund_lines` are the (allocation id, pence) lines
    of the fund commitment the caller made for it; the milestones add up to what the buyer pays (value plus VAT)
    exactly."""
    check_milestones(milestones, value_pence + vat_pence)
    if actor.user_id is None:
        raise ValueError("a contract is made by a person: the buyer who confirms the award")
    contract = Contract(competition_id=competition_id, bid_id=bid_id, buyer_organisation_id=buyer_organisation_id,
                        supplier_organisation_id=supplier_organisation_id, title=title, value_pence=value_pence,
                        vat_pence=vat_pence, starts_on=starts_on, ends_on=ends_on, state=ContractState.ACTIVE,
                        created_by_user_id=actor.user_id, created_at=now,
                        fund_lines=[{"allocation_id": allocation_id, "pence": pence}
                                    for allocation_id, pence in fund_lines])
    session.add(contract)
    return contract


async def add_milestones(session: AsyncSession, contract: Contract, milestones: Sequence[Milestone], *,
                         actor: Actor, now: datetime) -> None:
    """The flushed contract's milestones, all planned, and its audit event, in the caller's transaction (they go
    out with its next flush)."""
    for sequence, milestone in enumerate(milestones, start=1):
        session.add(ContractMilestone(contract_id=contract.id or 0, sequence=sequence, title=milestone.title,
                                      due_on=milestone.due_on, amount_pence=milestone.amount_pence,
                                      state=MilestoneState.PLANNED))
    await record(session, actor=actor, action="contract.created", entity_type="contract",
                 entity_id=contract.id or 0, now=now,
                 after={"competition_id": contract.competition_id,
                        "supplier_organisation_id": contract.supplier_organisation_id,
                        "value_pence": contract.value_pence, "vat_pence": contract.vat_pence})


# --- milestones: moved on by payments -------------------------------------------------------------------


async def move_milestone(session: AsyncSession, milestone_id: int, event: MilestoneEvent) -> bool:
    """One conditional UPDATE from the states the event is allowed in, so a replayed or concurrent event moves a
    milestone once at most. True if it moved. In the caller's transaction (not committed)."""
    move = milestone_move(event)
    table = _MILESTONE_TABLE
    moved = await changed_rows(session,
        sa.update(table).where(table.c.id == milestone_id, table.c.state.in_(sorted(move.sources)))
        .values(state=move.target))
    return bool(moved == 1)


# --- milestones: delivered by the supplier, accepted or rejected by the buyer ---------------------------


async def email_members(session: AsyncSession, organisation_id: int, *, key: str, subject: str, body: str,
                        now: datetime, roles: Sequence[Role] | None = None) -> None:
    """Queue one email to each active member of a party to a contract (only those holding one of `roles`, when
    given: the buyer's contract pages are its buyers', not its evaluators'), in the caller's transaction."""
    for email in await active_member_emails(session, organisation_id, roles):
        await queue_email(session, to=email, subject=subject, body=body, dedupe_key=f"{key}:{email}", now=now)


async def _times_recorded(session: AsyncSession, milestone_id: int, action: str) -> int:
    """How often this has happened to the milestone (a delivery, a rejection), to tell each email apart."""
    return int(await session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        col(AuditEvent.entity_type) == "contract_milestone", col(AuditEvent.entity_id) == str(milestone_id),
        col(AuditEvent.action) == action)) or 0)


async def _decide_move(session: AsyncSession, milestone: ContractMilestone, event: MilestoneEvent,
                       values: dict[str, object]) -> MilestoneState:
    """Move the milestone by `event` with one conditional UPDATE (the rule says from which states), or say why not."""
    target = MILESTONES.next_state(milestone.state, event)  # IllegalTransition in plain words when refused
    move = milestone_move(event)
    table = _MILESTONE_TABLE
    moved = await changed_rows(session,
        sa.update(table).where(table.c.id == milestone.id, table.c.state.in_(sorted(move.sources)))
        .values(state=move.target, **values))
    if moved != 1:
        raise Conflict("This milestone changed while you were looking at it: look again")
    return target


async def deliver_milestone(session: AsyncSession, user: SignedInUser, *, contract_id: int, milestone_id: int,
                            note: str, now: datetime) -> ContractMilestone:
    """The supplier says a milestone is delivered (again, after a rejection); the buyer is emailed to decide."""
    note = check_delivery_note(note)
    contract = await contract_for_supplier(session, user, contract_id)
    milestone = await milestone_of_contract(session, contract, milestone_id)
    before = {"state": milestone.state, "rejection_reason": milestone.rejection_reason}
    await _decide_move(session, milestone, MilestoneEvent.DELIVER,
                       {"delivery_note": note, "delivered_at": now, "decided_at": None, "rejection_reason": None})
    await record(session, actor=actor_of(user), action="contract_milestone.delivered",
                 entity_type="contract_milestone", entity_id=milestone.id or 0, now=now, before=before,
                 after={"state": MilestoneState.DELIVERED, "delivery_note": note, "contract_id": contract.id})
    await email_members(
        session, contract.buyer_organisation_id, roles=(Role.BUYER,), key=f"milestone:{milestone.id}:delivered:"
        f"{await _times_recorded(session, milestone.id or 0, 'contract_milestone.delivered')}",
        subject=f"Milestone delivered: {milestone.title} ({contract.title})",
        body=(f"The supplier says the milestone \u201c{milestone.title}\u201d of {contract.title} is delivered:\n\n"
              f"{note}\n\nAccept it, so it can be paid, or reject it with a reason:\n"
              f"{page_link(f'/buyer/contracts/{contract.id}#milestone-{milestone.id}')}\n"), now=now)
    await session.commit()
    return milestone


async def accept_milestone(session: AsyncSession, user: SignedInUser, *, contract_id: int, milestone_id: int,
                           now: datetime) -> ContractMilestone:
    """The buyer accepts a delivered milestone: it can now be paid. The supplier is emailed."""
    contract = await contract_for_buyer(session, user, contract_id)
    milestone = await milestone_of_contract(session, contract, milestone_id)
    await _decide_move(session, milestone, MilestoneEvent.ACCEPT, {"decided_at": now, "rejection_reason": None})
    await record(session, actor=actor_of(user), action="contract_milestone.accepted",
                 entity_type="contract_milestone", entity_id=milestone.id or 0, now=now,
                 before={"state": milestone.state},
                 after={"state": MilestoneState.ACCEPTED, "contract_id": contract.id})
    await email_members(
        session, contract.supplier_organisation_id, key=f"milestone:{milestone.id}:accepted",
        subject=f"Milestone accepted: {milestone.title} ({contract.title})",
        body=(f"The buyer accepted the milestone \u201c{milestone.title}\u201d of {contract.title}. "
              f"It can now be paid.\n\nSee the contract:\n"
              f"{page_link(f'/supplier/contracts/{contract.id}#milestone-{milestone.id}')}\n"), now=now)
    await session.commit()
    return milestone


async def reject_milestone(session: AsyncSession, user: SignedInUser, *, contract_id: int, milestone_id: int,
                           reason: str, now: datetime) -> ContractMilestone:
    """The buyer rejects a delivered milestone with a reason; the supplier is emailed and may deliver again."""
    reason = check_rejection_reason(reason)
    contract = await contract_for_buyer(session, user, contract_id)
    milestone = await milestone_of_contract(session, contract, milestone_id)
    await _decide_move(session, milestone, MilestoneEvent.REJECT, {"decided_at": now, "rejection_reason": reason})
    await record(session, actor=actor_of(user), action="contract_milestone.rejected",
                 entity_type="contract_milestone", entity_id=milestone.id or 0, now=now,
                 before={"state": milestone.state},
                 after={"state": MilestoneState.REJECTED, "reason": reason, "contract_id": contract.id})
    await email_members(
        session, contract.supplier_organisation_id, key=f"milestone:{milestone.id}:rejected:"
        f"{await _times_recorded(session, milestone.id or 0, 'contract_milestone.rejected')}",
        subject=f"Milestone not accepted: {milestone.title} ({contract.title})",
        body=(f"The buyer did not accept the milestone \u201c{milestone.title}\u201d of {contract.title}:\n\n"
              f"{reason}\n\nPut it right and mark it delivered again:\n"
              f"{page_link(f'/supplier/contracts/{contract.id}#milestone-{milestone.id}')}\n"), now=now)
    await session.commit()
    return milestone


# --- reading --------------------------------------------------------------------------------------------


async def contract_for_buyer(session: AsyncSession, user: SignedInUser, contract_id: int) -> Contract:
    contract = await session.scalar(sa.select(Contract).where(
        col(Contract.id) == contract_id, col(Contract.buyer_organisation_id).in_(_buyer_organisation_ids(user))))
    if contract is None:
        raise NotFound("There is no such contract")
    return contract


async def contract_for_supplier(session: AsyncSession, user: SignedInUser, contract_id: int) -> Contract:
    contract = await session.scalar(sa.select(Contract).where(
        col(Contract.id) == contract_id, col(Contract.supplier_organisation_id).in_(_supplier_organisation_ids(user))))
    if contract is None:
        raise NotFound("There is no such contract")
    return contract


async def contracts_for_buyer(session: AsyncSession, user: SignedInUser) -> list[Contract]:
    return list((await session.scalars(sa.select(Contract).where(
        col(Contract.buyer_organisation_id).in_(_buyer_organisation_ids(user))).order_by(col(Contract.id).desc()))).all())


async def contracts_for_supplier(session: AsyncSession, user: SignedInUser) -> list[Contract]:
    return list((await session.scalars(sa.select(Contract).where(
        col(Contract.supplier_organisation_id).in_(_supplier_organisation_ids(user))).order_by(col(Contract.id).desc()))).all())


async def contract_of_competition(session: AsyncSession, competition_id: int, *,
                                  supplier_organisation_id: int | None = None) -> Contract | None:
    """The contract a competition's award made, if any; with a supplier named, only if it went to that supplier.
    Callers check access to the competition first."""
    query = sa.select(Contract).where(col(Contract.competition_id) == competition_id)
    if supplier_organisation_id is not None:
        query = query.where(col(Contract.supplier_organisation_id) == supplier_organisation_id)
    return await session.scalar(query)


async def contracts_of_competitions(session: AsyncSession, competition_ids: Sequence[int]) -> dict[int, Contract]:
    """The contracts of these competitions, keyed by competition id (for publication: no access check)."""
    return {c.competition_id: c for c in (await session.scalars(
        sa.select(Contract).where(col(Contract.competition_id).in_(competition_ids)))).all()}


async def milestones_of(session: AsyncSession, contract_id: int) -> list[ContractMilestone]:
    return list((await session.scalars(sa.select(ContractMilestone).where(
        col(ContractMilestone.contract_id) == contract_id).order_by(col(ContractMilestone.sequence)))).all())


async def milestones_of_contracts(session: AsyncSession,
                                  contract_ids: Sequence[int]) -> dict[int, list[ContractMilestone]]:
    """The milestones of these contracts in their order, keyed by contract id (a contract without any is absent)."""
    milestones: dict[int, list[ContractMilestone]] = defaultdict(list)
    if not contract_ids:
        return milestones
    for milestone in (await session.scalars(sa.select(ContractMilestone).where(
            col(ContractMilestone.contract_id).in_(contract_ids)).order_by(col(ContractMilestone.sequence)))).all():
        milestones[milestone.contract_id].append(milestone)
    return milestones


async def milestone_of_contract(session: AsyncSession, contract: Contract, milestone_id: int) -> ContractMilestone:
    milestone = await session.scalar(sa.select(ContractMilestone).where(
        col(ContractMilestone.id) == milestone_id, col(ContractMilestone.contract_id) == contract.id))
    if milestone is None:
        raise NotFound("There is no such milestone")
    return milestone

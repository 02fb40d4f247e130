"""Fund commands run by the pages: read the form's values, check the person may act, call the service, commit.

Authority admins define funds and allocations and may adjust any allocation. A fund manager (a buyer
organisation's `fund_manager`) sees every allocation on the dashboard but changes money only on the allocations
they manage: those of their own ICB, of the ICBs in their NHS England region (for a region's fund manager), and
every allocation of a fund their organisation owns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from dps.errors import Forbidden, NotFound, ValidationFailed
from dps.forms import whole_number
from dps.funds import services
from dps.funds.models import Allocation, Commitment, CommitmentSource, Fund
from dps.funds.rules import Balance, FundRules, parse_percent_bps
from dps.identity.models import Organisation, OrganisationKind, Role
from dps.identity.rules import BuyerType
from dps.identity.services import SignedInUser, actor_of
from dps.money import parse_optional_pounds, parse_pounds

# How many split lines the off-platform commitment form offers (it works without JavaScript).
LINE_ROWS = 4


def fund_manager_organisation_ids(user: SignedInUser) -> frozenset[int]:
    return frozenset(m.organisation_id for m in user.memberships
                     if m.organisation_kind is OrganisationKind.BUYER and m.role is Role.FUND_MANAGER)


async def own_icb_code(session: AsyncSession, user: SignedInUser) -> str | None:
    """The integrated care board a fund manager works for (its ODS code), where the dashboard opens; None for a
    fund manager of a region or of several ICBs."""
    organisation_ids = fund_manager_organisation_ids(user)
    if not organisation_ids:
        return None
    organisations = (await session.scalars(sa.select(Organisation).where(
        col(Organisation.id).in_(organisation_ids)))).all()
    codes = {organisation.ods_code if organisation.buyer_type == BuyerType.ICB else organisation.parent_icb_ods_code
             for organisation in organisations} - {None}
    return codes.pop() if len(codes) == 1 else None


async def managed_allocation_ids(session: AsyncSession, user: SignedInUser,
                                 allocation_ids: Iterable[int] | None = None) -> set[int]:
    """The allocations (of `allocation_ids`, or all) this fund manager may change."""
    organisation_ids = fund_manager_organisation_ids(user)
    if not organisation_ids:
        return set()
    region_codes = (await session.scalars(sa.select(col(Organisation.ods_code)).where(
        col(Organisation.id).in_(organisation_ids), col(Organisation.buyer_type) == BuyerType.NHSE_REGION))).all()
    icb = aliased(Organisation)
    query = (sa.select(col(Allocation.id)).join(Fund, col(Fund.id) == Allocation.fund_id)
             .join(icb, col(icb.id) == col(Allocation.icb_organisation_id))
             .where(sa.or_(col(Allocation.icb_organisation_id).in_(organisation_ids),
                           col(Fund.owner_organisation_id).in_(organisation_ids),
                           col(icb.region_ods_code).in_(region_codes) if region_codes else sa.false())))
    if allocation_ids is not None:
        query = query.where(col(Allocation.id).in_(set(allocation_ids)))
    return set((await session.scalars(query)).all())


async def require_managed(session: AsyncSession, user: SignedInUser, allocation_ids: Sequence[int]) -> None:
    wanted = set(allocation_ids)
    existing = set((await session.scalars(sa.select(col(Allocation.id)).where(col(Allocation.id).in_(wanted)))).all())
    if existing != wanted:
        raise NotFound("There is no such allocation")
    if not wanted <= await managed_allocation_ids(session, user, wanted):
        raise Forbidden("You can only change the money of allocations you manage: those of your own ICB, your "
                        "region's ICBs, or your organisation's funds")


def _int(form: Mapping[str, str], name: str, message: str) -> int:
    value = whole_number(form.get(name))
    if value is None:
        raise ValidationFailed(message, field=name)
    return value


# --- authority admin --------------------------------------------------------------------------------------


async def define_fund_from_form(session: AsyncSession, user: SignedInUser, form: Mapping[str, str], *,
                                category_ids: Sequence[str], buyer_types: Sequence[str], now: datetime) -> Fund:
    if not form.get("name", "").strip():
        raise ValidationFailed("Enter the fund's name", field="name")
    owner = _int(form, "owner_organisation_id", "Choose the organisation that owns the fund")
    if any(whole_number(value) is None for value in category_ids):
        raise ValidationFailed("Choose eligible categories from the list", field="eligible_category_ids")
    lapses = form.get("lapses_at_year_end", "")
    if lapses not in ("yes", "no"):
        raise ValidationFailed("Choose whether unspent money lapses at 31 March", field="lapses_at_year_end")
    national = form.get("national", "")
    if national not in ("yes", "no"):
        raise ValidationFailed("Choose whether this is a national fund", field="national")
    rules = FundRules(
        name=form["name"],
        eligible_category_ids=frozenset(int(value) for value in category_ids),
        eligible_buyer_types=frozenset(buyer_types),
        match_funding_bps=parse_percent_bps(form.get("match_funding", ""), field="match_funding"),
        per_award_cap_pence=parse_optional_pounds(form.get("per_award_cap", ""), field="per_award_cap",
                                                  label="Per-award cap", allow_zero=False),
        lapses_at_year_end=lapses == "yes",
        national=national == "yes",
    )
    fund = await services.define_fund(session, name=form["name"], description=form.get("description", ""),
                                      owner_organisation_id=owner, rules=rules, actor=actor_of(user), now=now)
    await session.commit()
    return fund


async def allocate_from_form(session: AsyncSession, user: SignedInUser, fund_id: int, form: Mapping[str, str], *,
                             now: datetime) -> Allocation:
    if not form.get("financial_year", "").strip():
        raise ValidationFailed("Enter the financial year, like 2025/26", field="financial_year")
    icb_id = _int(form, "icb_organisation_id", "Choose an integrated care board")
    if form.get("budget_type") not in ("capital", "revenue"):
        raise ValidationFailed("Choose capital or revenue", field="budget_type")
    pence = parse_pounds(form.get("amount", ""), field="amount", label="Amount allocated", allow_zero=False)
    allocation = await services.allocate(session, fund_id=fund_id, financial_year=form["financial_year"],
                                         icb_organisation_id=icb_id, budget_type=form["budget_type"],
                                         pence=pence, reason=form.get("reason", ""), actor=actor_of(user), now=now)
    await session.commit()
    return allocation


# --- fund managers (and authority admins for adjustments) --------------------------------------------------


async def adjust_from_form(session: AsyncSession, user: SignedInUser, allocation_id: int, form: Mapping[str, str], *,
                           now: datetime, as_authority: bool = False) -> Balance:
    if not as_authority:
        await require_managed(session, user, [allocation_id])
    direction = form.get("direction", "")
    if direction not in ("increase", "decrease"):
        raise ValidationFailed("Choose whether to increase or decrease the allocation", field="direction")
    pence = parse_pounds(form.get("amount", ""), field="amount", label="Amount to adjust by", allow_zero=False)
    balance = await services.adjust_allocation(session, allocation_id=allocation_id,
                                               delta_pence=pence if direction == "increase" else -pence,
                                               reason=form.get("reason", ""), actor=actor_of(user), now=now)
    await session.commit()
    return balance


def split_lines_from_form(form: Mapping[str, str]) -> list[tuple[int, int]]:
    """The filled-in rows of the split: (allocation id, pence); a half-filled row names its empty field."""
    lines = []
    for row in range(1, LINE_ROWS + 1):
        allocation = (form.get(f"line-{row}-allocation") or "").strip()
        amount = (form.get(f"line-{row}-amount") or "").strip()
        if not allocation and not amount:
            continue
        allocation_id = whole_number(allocation)
        if allocation_id is None:
            raise ValidationFailed(f"Choose the allocation for line {row} of the split", field=f"line-{row}-allocation")
        pence = parse_pounds(amount, field=f"line-{row}-amount", label=f"Amount for line {row} of the split",
                             allow_zero=False)
        lines.append((allocation_id, pence))
    if not lines:
        raise ValidationFailed("Choose at least one allocation and the amount it pays", field="line-1-allocation")
    return lines


async def off_platform_commitment_from_form(session: AsyncSession, user: SignedInUser, form: Mapping[str, str], *,
                                            now: datetime) -> Commitment:
    """A fund manager records an award made outside the platform against allocations they manage."""
    buyer_id = _int(form, "buyer_organisation_id", "Choose the NHS organisation that made the award")
    category = (form.get("category_id") or "").strip()
    if category and whole_number(category) is None:
        raise ValidationFailed("Choose a category from the list", field="category_id")
    total = parse_pounds(form.get("total", ""), field="total", label="Award value", allow_zero=False)
    lines = split_lines_from_form(form)
    await require_managed(session, user, [allocation_id for allocation_id, _ in lines])
    commitment = await services.commit_funds(
        session, buyer_org_id=buyer_id, category_id=int(category) if category else None, lines=lines,
        total_pence=total, reference=form.get("reference", ""), description=form.get("description", ""),
        source=CommitmentSource.OFF_PLATFORM, actor=actor_of(user), now=now)
    await session.commit()
    return commitment


async def _require_manages_commitment(session: AsyncSession, user: SignedInUser, commitment_id: int,
                                      allocation_id: int | None = None) -> None:
    _commitment, lines = await services.commitment_lines(session, commitment_id)
    ids = [item.line.allocation_id for item in lines if allocation_id in (None, item.line.allocation_id)]
    await require_managed(session, user, ids)


async def pay_from_form(session: AsyncSession, user: SignedInUser, commitment_id: int, allocation_id: int,
                        form: Mapping[str, str], *, now: datetime) -> Balance:
    await _require_manages_commitment(session, user, commitment_id, allocation_id)
    pence = parse_pounds(form.get("amount", ""), field="amount", label="Amount paid", allow_zero=False)
    balance = await services.record_payment(session, commitment_id=commitment_id, allocation_id=allocation_id,
                                            pence=pence, reason=form.get("reason", ""), actor=actor_of(user), now=now)
    await session.commit()
    return balance


async def refund_from_form(session: AsyncSession, user: SignedInUser, commitment_id: int, allocation_id: int,
                           form: Mapping[str, str], *, now: datetime) -> Balance:
    await _require_manages_commitment(session, user, commitment_id, allocation_id)
    pence = parse_pounds(form.get("amount", ""), field="amount", label="Amount refunded", allow_zero=False)
    balance = await services.record_refund(session, commitment_id=commitment_id, allocation_id=allocation_id,
                                           pence=pence, reason=form.get("reason", ""), actor=actor_of(user), now=now)
    await session.commit()
    return balance


async def release_from_form(session: AsyncSession, user: SignedInUser, commitment_id: int, form: Mapping[str, str], *,
                            now: datetime) -> Commitment:
    await _require_manages_commitment(session, user, commitment_id)
    commitment = await services.release_commitment(session, commitment_id=commitment_id,
                                                   reason=form.get("reason", ""), actor=actor_of(user), now=now)
    await session.commit()
    return commitment

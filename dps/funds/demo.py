"""Demo funds: HTAF 2022/23 (about £28m to ICBs), the MedTech ICS fund 2023/24 (£30m), the AI Diagnostic Fund
(£21m, trusts), and SBRI Healthcare this year, with commitments, payments and a release so the dashboard and its
chart have something to show. Built through the same services the pages use; dated as the money moved."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.agreements.models import Category
from dps.audit.services import Actor
from dps.calendar import financial_year, financial_year_bounds, london_date, london_instant
from dps.funds import services
from dps.funds.models import Allocation, Fund
from dps.funds.rules import FundRules
from dps.identity.models import Organisation, OrganisationKind
from dps.identity.rules import BuyerType
from dps.reference import INTEGRATED_CARE_BOARDS

HTAF = "Health Technology Adoption and Acceleration Fund (HTAF)"
MEDTECH = "MedTech ICS Fund"
AIDF = "AI Diagnostic Fund"
SBRI = "SBRI Healthcare"
POUND = 100


def _at(day: date) -> datetime:
    return london_instant(day, time(10, 0))


def _spread(total_pounds: int, count: int) -> list[int]:
    """`total_pounds` over `count` allocations in uneven round thousands (as real allocations are), in pence."""
    weights = [3 + (index * 7) % 5 for index in range(count)]
    shares = [total_pounds * w // sum(weights) // 1000 * 1000 for w in weights]
    shares[0] += total_pounds - sum(shares)
    return [share * POUND for share in shares]


async def _categories(session: AsyncSession, *slugs: str) -> frozenset[int]:
    return frozenset((await session.scalars(sa.select(col(Category.id)).where(col(Category.slug).in_(slugs)))).all())


async def _ods(session: AsyncSession, code: str) -> Organisation | None:
    return await session.scalar(sa.select(Organisation).where(col(Organisation.ods_code) == code))


async def _allocation(session: AsyncSession, fund: Fund, year: str, ods: str, budget: str) -> int:
    icb = await _ods(session, ods)
    return int(await session.scalar(sa.select(col(Allocation.id)).where(
        col(Allocation.fund_id) == fund.id, col(Allocation.financial_year) == year,
        col(Allocation.icb_organisation_id) == (icb.id if icb else 0), col(Allocation.budget_type) == budget)) or 0)


async def seed_demo_funds(session: AsyncSession, now: datetime) -> int:
    """Idempotent: a fund that already exists (by name) is left alone. Returns how many funds were added."""
    actor = Actor.system("demo-seed")
    authority = await session.scalar(sa.select(Organisation)
        .where(col(Organisation.kind) == OrganisationKind.AUTHORITY))
    found = {ods: await _ods(session, ods) for ods, _name, _region in INTEGRATED_CARE_BOARDS}
    icbs = {ods: icb for ods, icb in found.items() if icb is not None}
    if authority is None or len(icbs) != len(found):
        return 0
    existing = set((await session.scalars(sa.select(col(Fund.name)))).all())
    added = 0

    async def fund(name: str, description: str, rules: FundRules, defined: date) -> Fund | None:
        nonlocal added
        if name in existing:
            return None
        added += 1
        return await services.define_fund(session, name=name, description=description,
                                          owner_organisation_id=authority.id or 0, rules=rules, actor=actor,
                                          now=_at(defined))

    async def allocate(item: Fund, year: str, ods: str, budget: str, pence: int) -> None:
        start = financial_year_bounds(year)[0]
        await services.allocate(session, fund_id=item.id or 0, financial_year=year,
                                icb_organisation_id=icbs[ods].id or 0,
                                budget_type=budget, pence=pence, actor=actor, now=_at(start))

    async def commit(reference: str, buyer: Organisation, lines: list[tuple[int, int]], on: date,
                     category: frozenset[int] | None = None, description: str = "") -> int:
        commitment = await services.commit_funds(
            session, buyer_org_id=buyer.id or 0, category_id=min(category) if category else None, lines=lines,
            total_pence=sum(p for _, p in lines), reference=reference, description=description,
            source="off_platform", actor=actor, now=_at(on))
        return commitment.id or 0

    async def pay(commitment_id: int, allocation_id: int, pounds: int, on: date, milestone: str) -> None:
        await services.record_payment(session, commitment_id=commitment_id, allocation_id=allocation_id,
                                      pence=pounds * POUND, reason=milestone, actor=actor, now=_at(on))

    # HTAF 2022/23: about £28m, revenue, to every ICB; spent on adopting proven technologies.
    htaf = await fund(HTAF, "Supported ICBs in 2022/23 to adopt 81 proven health technologies at scale.",
                      FundRules(HTAF, eligible_buyer_types=frozenset({BuyerType.ICB, BuyerType.TRUST})),
                      date(2022, 3, 1))
    if htaf is not None:
        for (ods, _name, _region), pence in zip(INTEGRATED_CARE_BOARDS, _spread(28_000_000, 42), strict=True):
            await allocate(htaf, "2022/23", ods, "revenue", pence)
        qmf = await _allocation(session, htaf, "2022/23", "QMF", "revenue")
        qop = await _allocation(session, htaf, "2022/23", "QOP", "revenue")
        first = await commit("HTAF-22-QMF-001", icbs["QMF"], [(qmf, 350_000 * POUND)], date(2022, 6, 14),
                             description="Remote monitoring for heart failure across north east London")
        await pay(first, qmf, 120_000, date(2022, 9, 30), "Milestone 1: deployment")
        await pay(first, qmf, 150_000, date(2023, 1, 16), "Milestone 2: 1,000 patients onboarded")
        await services.release_commitment(session, commitment_id=first, reason="Contract ended under budget",
                                          actor=actor, now=_at(date(2023, 3, 20)))
        second = await commit("HTAF-22-QOP-004", icbs["QOP"], [(qop, 380_000 * POUND)], date(2022, 7, 4),
                              description="AI-supported skin cancer triage in Greater Manchester")
        for month, pounds in ((8, 80_000), (11, 150_000), (2, 150_000)):
            await pay(second, qop, pounds, date(2022 if month > 3 else 2023, month, 10), "Monthly invoice")

    # MedTech ICS fund 2023/24: £30m, capital and revenue, for medical technology categories.
    medtech_categories = await _categories(session, "virtual-wards", "wearables-home-diagnostics",
                                           "surgical-infection-prevention", "imaging", "logistics")
    medtech = await fund(MEDTECH, "£30m for integrated care systems to adopt medical technology in 2023/24.",
                         FundRules(MEDTECH, eligible_category_ids=medtech_categories), date(2023, 3, 1))
    if medtech is not None:
        capital, revenue = _spread(12_000_000, 42), _spread(18_000_000, 42)
        for (ods, _name, _region), cap, rev in zip(INTEGRATED_CARE_BOARDS, capital, revenue, strict=True):
            await allocate(medtech, "2023/24", ods, "capital", cap)
            await allocate(medtech, "2023/24", ods, "revenue", rev)
        cap_id = await _allocation(session, medtech, "2023/24", "QMF", "capital")
        rev_id = await _allocation(session, medtech, "2023/24", "QMF", "revenue")
        lines = [(cap_id, 240_000 * POUND), (rev_id, 120_000 * POUND)]
        split = await commit("MTF-23-QMF-002", icbs["QMF"], lines, date(2023, 5, 22), medtech_categories,
                             description="Virtual ward kit (capital) and its first year of service (revenue)")
        await pay(split, cap_id, 240_000, date(2023, 7, 3), "Equipment delivered")
        for month in (8, 10, 12):
            await pay(split, rev_id, 30_000, date(2023, month, 28), "Quarterly service charge")

    # AI Diagnostic Fund: £21m capital for trusts in imaging networks, 2023/24.
    aidf = await fund(AIDF, "£21m to speed up diagnosis with AI imaging and decision support, for NHS trusts.",
                      FundRules(AIDF, eligible_buyer_types=frozenset({BuyerType.TRUST}),
                                eligible_category_ids=await _categories(session, "ai-diagnostics", "imaging"),
                                per_award_cap_pence=3_000_000 * POUND), date(2023, 6, 1))
    if aidf is not None:
        networks = ("QKK", "QMF", "QMJ", "QOP", "QWO", "QHM", "QHL", "QUY", "QRL", "QK1")
        for ods, pence in zip(networks, _spread(21_000_000, len(networks)), strict=True):
            await allocate(aidf, "2023/24", ods, "capital", pence)
        trust = await _ods(session, "RJ1")
        ai_diagnostics = await _categories(session, "ai-diagnostics")
        if trust is not None:
            qkk = await _allocation(session, aidf, "2023/24", "QKK", "capital")
            award = await commit("AIDF-23-RJ1-001", trust, [(qkk, 1_200_000 * POUND)], date(2023, 9, 12),
                                 ai_diagnostics, description="AI chest X-ray reporting across south east London")
            await pay(award, qkk, 700_000, date(2023, 12, 1), "Go-live")
            await pay(award, qkk, 300_000, date(2024, 3, 15), "Network roll-out")

    # SBRI Healthcare: a national programme, so any NHS buyer may draw on its allocations; this financial year,
    # money does not lapse; one award capped at £1m.
    this_year = financial_year(london_date(now))
    sbri = await fund(SBRI, "Small Business Research Initiative competitions for late-stage innovation.",
                      FundRules(SBRI, per_award_cap_pence=1_000_000 * POUND, lapses_at_year_end=False, national=True),
                      financial_year_bounds(this_year)[0] - timedelta(days=30))
    if sbri is not None:
        for ods, pence in (("QMF", 1_500_000), ("QMJ", 1_200_000), ("QKK", 1_000_000), ("QOP", 2_000_000)):
            await allocate(sbri, this_year, ods, "revenue", pence * POUND)
        qmf = await _allocation(session, sbri, this_year, "QMF", "revenue")
        start = financial_year_bounds(this_year)[0]
        on = min(start + timedelta(days=60), london_date(now))
        award = await commit(f"SBRI-{this_year[2:4]}-QMF-001", icbs["QMF"], [(qmf, 250_000 * POUND)], on,
                             description="Phase 2 evaluation of a digital pulmonary rehabilitation service")
        await pay(award, qmf, 50_000, min(on + timedelta(days=30), london_date(now)), "Phase 2 start")
    await session.flush()
    return added

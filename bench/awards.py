"""Awards under contention (PostgreSQL): N buyers confirm N awards at the same instant, every award drawing on the
same two fund allocations, which hold money for only some of them.

Each confirmation is the product's `confirm_award` (funds committed through `commit_funds`, contract, milestones,
audit events, email outbox rows, one transaction) over its own connection. The allocations are sized so that
about 60% of the awards fit: the rest must be refused, and at the end no allocation may have committed more than
it holds, the ledger must rebuild every balance, and the commitments must add up to what the allocations say.

The benchmark makes its own database (dps_bench_<random>) and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import lifecycle
from bench.database import (
    Target,
    create_postgres_database,
    drop_postgres_database,
    postgres_answers,
    throwaway_name,
)
from bench.report import Section, console, percentiles

FUNDED_SHARE = 0.6  # of the total award value, across both allocations


@dataclass(frozen=True)
class Award:
    competition_id: int
    buyer_user_id: int
    total_pence: int
    milestones: list[Any]


async def _prepare_awards(target: Target, count: int, seed: int) -> tuple[list[Award], list[int], Any]:
    """Suppliers, trusts and `count` competitions in standstill, through the generator and the services."""
    from bench.generate import DEFAULT_AS_OF, Sizes, write_bulk
    from dps.calendar import financial_year, london_date
    from dps.competitions.services import awarding, loading
    from dps.contracts.rules import default_milestones
    from dps.db import make_engine, make_sessionmaker
    from dps.funds import services as funds
    from dps.funds.rules import FundRules
    from dps.identity.services import load_signed_in_user

    as_of = DEFAULT_AS_OF
    population, reference, _ = await write_bulk(target, Sizes(0, 60, count), seed, as_of)
    rng = random.Random(f"{seed}:awards")
    engine = make_engine(target.settings().database_url)
    sessions = make_sessionmaker(engine)
    awards: list[Award] = []
    try:
        categories = sorted(category for category, suppliers in population.active_admissions.items()
                            if len(suppliers) >= 2)
        with Progress(TextColumn("Competitions to standstill"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("prepare", total=count)
            for number in range(count):
                category_id = categories[number % len(categories)]
                trust, buyer, evaluator = population.trusts[number % len(population.trusts)]
                bidders = rng.sample(sorted(population.active_admissions[category_id]), 2)
                plan = lifecycle.Plan(title=f"Contended award {number + 1}", requirement="Remote monitoring.",
                                      category_id=category_id, buyer_organisation_id=trust,
                                      final_state="standstill", published_at=as_of - timedelta(days=19))
                cast = lifecycle.Cast(buyer, evaluator,
                                      tuple(population.supplier_admin_user[s] for s in sorted(bidders)))
                async with sessions() as session:
                    competition_id = await lifecycle.run_competition(session, plan, cast, rng, as_of)
                    user = await load_signed_in_user(session, buyer)
                    assert user is not None
                    competition = await loading.competition_for_buyer(session, user, competition_id, as_of)
                    _, total = await awarding.award_value(session, competition)
                    awards.append(Award(competition_id, buyer, total, default_milestones(
                        total, competition.contract_starts_on, competition.contract_ends_on)))
                    confirm_at = (competition.standstill_ends_at or as_of) + timedelta(days=1)
                    await session.commit()
                bar.advance(task)
        # Two shared allocations holding FUNDED_SHARE of all the award value between them. The fund is national, so
        # trusts of every ICB may draw on them (RULES.md 5) and only the money left decides who is refused.
        async with sessions() as session:
            fund = await funds.define_fund(session, name="Contended fund", description="", actor=lifecycle.SEED_ACTOR,
                                           owner_organisation_id=reference.authority_id,
                                           rules=FundRules(name="Contended fund", national=True), now=as_of)
            each = int(sum(award.total_pence for award in awards) * FUNDED_SHARE / 2)
            allocation_ids = []
            for icb_id in sorted(reference.icb_ids.values())[:2]:
                allocation = await funds.allocate(session, fund_id=fund.id or 0,
                                                  financial_year=financial_year(london_date(confirm_at)),
                                                  icb_organisation_id=icb_id, budget_type="revenue", pence=each,
                                                  actor=lifecycle.SEED_ACTOR, now=as_of)
                allocation_ids.append(allocation.id or 0)
            await session.commit()
    finally:
        await engine.dispose()
    return awards, allocation_ids, confirm_at


async def _race(target: Target, awards: list[Award], allocation_ids: list[int], confirm_at: Any) -> dict[str, Any]:
    """Every award confirmed at once, each over its own connection; returns outcomes and timings."""
    from dps.competitions.services import awarding
    from dps.db import make_engine, make_sessionmaker
    from dps.errors import DomainError
    from dps.identity.services import load_signed_in_user

    engine = make_engine(target.settings().database_url, pool_size=len(awards), max_overflow=0)
    sessions = make_sessionmaker(engine)
    start = asyncio.Event()
    latencies: list[float] = []
    outcomes = {"committed": 0, "refused": 0, "errors": 0}
    errors: list[str] = []

    async def confirm(award: Award) -> None:
        async with sessions() as session:
            user = await load_signed_in_user(session, award.buyer_user_id)
            await session.rollback()  # connection checked out and ready before the start
            assert user is not None
            await start.wait()
            began = time.perf_counter()
            try:
                await awarding.confirm_award(session, user, award.competition_id,
                                             fund_lines=lifecycle.split(award.total_pence, allocation_ids),
                                             milestones=award.milestones, now=confirm_at)
                outcomes["committed"] += 1
            except DomainError:
                outcomes["refused"] += 1
            except Exception as error:  # counted and shown: a deadlock or a lost update is a finding
                await session.rollback()
                outcomes["errors"] += 1
                errors.append(f"{type(error).__name__}: {error}"[:200])
            latencies.append((time.perf_counter() - began) * 1000)

    try:
        tasks = [asyncio.create_task(confirm(award)) for award in awards]
        await asyncio.sleep(0.5)
        began = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - began
    finally:
        await engine.dispose()
    return {**outcomes, "wall": wall, "latencies": latencies, "error_samples": errors[:3]}


async def _books(target: Target, allocation_ids: list[int]) -> dict[str, Any]:
    from dps.contracts.models import Contract
    from dps.db import make_engine, make_sessionmaker
    from dps.funds import services as funds
    from dps.funds.models import Allocation, CommitmentLine

    engine = make_engine(target.settings().database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            allocations = (await session.scalars(sa.select(Allocation).where(Allocation.id.in_(allocation_ids)))).all()
            overspend = max(a.committed_pence + a.spent_pence - a.allocated_pence for a in allocations)
            lines = dict((await session.execute(
                sa.select(CommitmentLine.allocation_id, sa.func.sum(CommitmentLine.amount_pence))
                .where(CommitmentLine.allocation_id.in_(allocation_ids))
                .group_by(CommitmentLine.allocation_id))).all())
            lines_match = all(int(lines.get(a.id, 0)) == a.committed_pence for a in allocations)
            problems = await funds.check_books(session)
            contracts = int(await session.scalar(sa.select(sa.func.count()).select_from(Contract)) or 0)
            used = sum(a.committed_pence for a in allocations) / sum(a.allocated_pence for a in allocations)
            await session.commit()
    finally:
        await engine.dispose()
    return {"overspend": overspend, "lines_match": lines_match, "book_problems": len(problems),
            "contracts": contracts, "used": used}


async def run(admin_url: str, count: int, seed: int, work_dir: Path, keep: bool = False) -> Section:
    section = Section("Awards under contention (PostgreSQL)")
    version = await postgres_answers(admin_url)
    if version is None:
        section.skipped = f"PostgreSQL does not answer at {admin_url}"
        return section
    name = throwaway_name()
    url = await create_postgres_database(admin_url, name)
    target = Target(url, (work_dir / "awards").resolve())
    try:
        from bench.generate import DEFAULT_AS_OF, prepare

        await asyncio.to_thread(prepare, target, DEFAULT_AS_OF)
        started = time.perf_counter()
        awards, allocation_ids, confirm_at = await _prepare_awards(target, count, seed)
        setup = time.perf_counter() - started
        race = await _race(target, awards, allocation_ids, confirm_at)
        books = await _books(target, allocation_ids)
    finally:
        if not keep:
            await drop_postgres_database(admin_url, name)
    latency = percentiles(race["latencies"])
    section.add("concurrent award confirmations", count, "awards")
    section.add("shared fund allocations", len(allocation_ids), "allocations")
    section.add("confirmed (funds committed)", race["committed"], "awards")
    section.add("refused (not enough money left)", race["refused"], "awards")
    section.add("failed with another error", race["errors"], "awards")
    section.add("wall time, all confirmations", race["wall"], "s")
    section.add("confirmations committed per second", race["committed"] / race["wall"] if race["wall"] else None,
                "commits/s", ">= 100")
    section.add("confirmations decided per second", count / race["wall"] if race["wall"] else None, "awards/s")
    section.add("confirmation latency p50 / p99", f"{latency['p50']:.0f} / {latency['p99']:.0f}", "ms")
    section.add("allocated money committed", books["used"] * 100, "%")
    section.add("largest overspend of an allocation", max(0, books["overspend"]), "pence", "0")
    section.add("books balance (ledger, lines, balances)",
                "yes" if books["book_problems"] == 0 and books["lines_match"] else "NO", "", "yes")
    section.add("contracts created = confirmations", "yes" if books["contracts"] == race["committed"] else "NO")
    section.notes.append(f"PostgreSQL {version}; setup (competitions to standstill through the services) took "
                         f"{setup:.0f} s. Every confirmation writes audit events, which only insert rows of their "
                         "own (the sealer chains them afterwards), so confirmations wait only on the allocations "
                         "they share.")
    for sample in race["error_samples"]:
        section.notes.append(f"error: {sample}")
    if books["overspend"] > 0 or books["book_problems"] or not books["lines_match"]:
        section.notes.append("OVERSPEND OR UNBALANCED BOOKS: this is a bug in the product.")
    return section

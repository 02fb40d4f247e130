"""Awards under contention (PostgreSQL): N buyers confirm N awards at the same instant, every award drawing on the
same two fund allocations, which hold money for only some of them.

Each confirmation is the product's `confirm_award` (funds committed through `commit_funds`, contract, milestones,
audit events, email outbox rows, one transaction). The allocations are sized so that about 60% of the awards fit:
the rest must be refused, and at the end no allocation may have committed more than it holds, the ledger must
rebuild every balance, and the commitments must add up to what the allocations say.

The confirmations run as `dps serve --workers P` would run them: P processes (one a core by default), each with the
app's own connection pool, whose connections have already served confirmations (a warm-up round on other awards and
another fund), so their statements are prepared as a running server's are. Every process starts at the same
instant; the awards are dealt out to them in turn. The race is run in rounds (three by default), each on awards and
allocations of its own, by the same processes; the median round is the figure read, since one round lasts well under
a second and a shared machine's slow moment moves it a lot.

The benchmark makes its own database (dps_bench_<random>) and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
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


@dataclass(frozen=True)
class Round:
    awards: list[Award]  # raced
    allocation_ids: list[int]  # the two shared allocations, holding FUNDED_SHARE of the raced awards' value


@dataclass(frozen=True)
class Prepared:
    rounds: list[Round]
    warm_up_awards: list[Award]
    warm_up_allocation_ids: list[int]  # another fund's, holding enough for every warm-up award
    confirm_at: datetime


async def _prepare_awards(target: Target, count: int, seed: int, warm_up: int = 0, rounds: int = 1) -> Prepared:
    """Suppliers, trusts and `count * rounds + warm_up` competitions in standstill, through the generator and the
    services; each round's contended allocations (a fund of its own), and the warm-up round's own."""
    from bench.generate import DEFAULT_AS_OF, Sizes, write_bulk
    from dps.calendar import financial_year, london_date
    from dps.competitions.services import awarding, loading
    from dps.contracts.rules import default_milestones
    from dps.db import make_engine, make_sessionmaker
    from dps.funds import services as funds
    from dps.funds.rules import FundRules
    from dps.identity.services import load_signed_in_user

    as_of = DEFAULT_AS_OF
    total = count * rounds + warm_up
    population, reference, _ = await write_bulk(target, Sizes(0, 60, total), seed, as_of)
    rng = random.Random(f"{seed}:awards")
    engine = make_engine(target.settings().database_url)
    sessions = make_sessionmaker(engine)
    awards: list[Award] = []
    confirm_at = as_of
    try:
        categories = sorted(category for category, suppliers in population.active_admissions.items()
                            if len(suppliers) >= 2)
        with Progress(TextColumn("Competitions to standstill"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("prepare", total=total)
            for number in range(total):
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
                    # A day after the last standstill ends: every award may be confirmed then.
                    confirm_at = max(confirm_at, (competition.standstill_ends_at or as_of) + timedelta(days=1))
                    await session.commit()
                bar.advance(task)
        # Two shared allocations holding FUNDED_SHARE of all the award value between them. The fund is national, so
        # trusts of every ICB may draw on them (RULES.md 5) and only the money left decides who is refused.
        raced, warming = awards[:count * rounds], awards[count * rounds:]

        async def two_allocations(session: Any, fund_name: str, each: int) -> list[int]:
            fund = await funds.define_fund(session, name=fund_name, description="", actor=lifecycle.SEED_ACTOR,
                                           owner_organisation_id=reference.authority_id,
                                           rules=FundRules(name=fund_name, national=True), now=as_of)
            ids = []
            for icb_id in sorted(reference.icb_ids.values())[:2]:
                allocation = await funds.allocate(session, fund_id=fund.id or 0,
                                                  financial_year=financial_year(london_date(confirm_at)),
                                                  icb_organisation_id=icb_id, budget_type="revenue", pence=each,
                                                  actor=lifecycle.SEED_ACTOR, now=as_of)
                ids.append(allocation.id or 0)
            return ids

        async with sessions() as session:
            prepared_rounds = []
            for number in range(rounds):
                awards_of_round = raced[number * count:(number + 1) * count]
                each = int(sum(award.total_pence for award in awards_of_round) * FUNDED_SHARE / 2)
                prepared_rounds.append(Round(awards_of_round,
                                             await two_allocations(session, f"Contended fund {number + 1}", each)))
            warm_up_ids = (await two_allocations(session, "Warm-up fund",
                                                 sum(award.total_pence for award in warming) + 1)
                           if warming else [])
            await session.commit()
    finally:
        await engine.dispose()
    return Prepared(prepared_rounds, warming, warm_up_ids, confirm_at)


@dataclass(frozen=True)
class Share:
    """One process's part of the race, round by round."""
    database_url: str
    rounds: list[Round]
    warm_up_awards: list[Award]
    warm_up_allocation_ids: list[int]
    confirm_at: datetime


async def _confirm_share(share: Share, wait_for_the_others: Any) -> dict[str, Any]:
    """Warm the pool up, wait for every process, then confirm this share's awards at once."""
    from dps.competitions.services import awarding
    from dps.errors import DomainError
    from dps.identity.services import load_signed_in_user
    from dps.web.database import Database

    database = Database.for_url(share.database_url)  # the app's own pools, as `dps serve` opens them
    sessions, reading_sessions = database.sessions, database.reading_sessions
    errors: list[str] = []

    async def confirm(award: Award, allocation_ids: list[int]) -> str:
        async with reading_sessions() as reader:  # as the app loads the user, before the handler's transaction
            user = await load_signed_in_user(reader, award.buyer_user_id)
        assert user is not None
        async with sessions() as session:
            try:
                await awarding.confirm_award(session, user, award.competition_id,
                                             fund_lines=lifecycle.split(award.total_pence, allocation_ids),
                                             milestones=award.milestones, now=share.confirm_at)
                return "committed"
            except DomainError:
                return "refused"
            except Exception as error:  # counted and shown: a deadlock or a lost update is a finding
                await session.rollback()
                errors.append(f"{type(error).__name__}: {error}"[:200])
                return "errors"

    try:
        warm_up = await asyncio.gather(*(confirm(award, share.warm_up_allocation_ids)
                                         for award in share.warm_up_awards))
        warm_up_failures = sum(1 for outcome in warm_up if outcome != "committed")
        rounds = []
        for round_ in share.rounds:
            outcomes = {"committed": 0, "refused": 0, "errors": 0}
            await asyncio.to_thread(wait_for_the_others.wait)
            began = time.monotonic()  # one clock for every process of the machine
            cpu_began = time.process_time()
            latencies: list[float] = []

            async def timed(award: Award, allocation_ids: list[int], outcomes: dict[str, int] = outcomes,
                            began: float = began, latencies: list[float] = latencies) -> None:
                outcome = await confirm(award, allocation_ids)
                latencies.append((time.monotonic() - began) * 1000)
                outcomes[outcome] += 1

            await asyncio.gather(*(timed(award, round_.allocation_ids) for award in round_.awards))
            rounds.append({**outcomes, "began": began, "ended": time.monotonic(),
                           "cpu": time.process_time() - cpu_began, "latencies": latencies})
    finally:
        await database.dispose()
    return {"rounds": rounds, "error_samples": errors[:3], "warm_up_failures": warm_up_failures}


def _share_process(share: Share, wait_for_the_others: Any, results: Any) -> None:
    import uvloop  # the event loop `dps serve` runs on: uvicorn takes uvloop when it is installed, as it is

    results.put(uvloop.run(_confirm_share(share, wait_for_the_others)))


async def _race(target: Target, prepared: Prepared, processes: int) -> list[dict[str, Any]]:
    """Every round's awards confirmed at once, dealt out over `processes` processes (the same processes, warmed up
    once, for every round); returns each round's outcomes and timings."""
    url = target.settings().database_url
    shares = [Share(url, [Round(round_.awards[number::processes], round_.allocation_ids) for round_ in prepared.rounds],
                    prepared.warm_up_awards[number::processes], prepared.warm_up_allocation_ids, prepared.confirm_at)
              for number in range(processes)]
    context = multiprocessing.get_context("spawn")
    wait_for_the_others = context.Barrier(processes)
    results = context.Queue()
    workers = [context.Process(target=_share_process, args=(share, wait_for_the_others, results))
               for share in shares]
    for worker in workers:
        worker.start()
    answers = [await asyncio.to_thread(results.get, True, 600) for _ in workers]  # a dead process fails the run
    for worker in workers:
        await asyncio.to_thread(worker.join)
    warm_up_failures = sum(answer["warm_up_failures"] for answer in answers)
    error_samples = [sample for answer in answers for sample in answer["error_samples"]][:3]
    rounds = []
    for number in range(len(prepared.rounds)):
        parts = [answer["rounds"][number] for answer in answers]
        rounds.append({**{key: sum(part[key] for part in parts) for key in ("committed", "refused", "errors", "cpu")},
                       "wall": max(part["ended"] for part in parts) - min(part["began"] for part in parts),
                       "latencies": [latency for part in parts for latency in part["latencies"]],
                       "warm_up_failures": warm_up_failures, "error_samples": error_samples})
    return rounds


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


ROUNDS = 3  # the race is run this many times, each on awards and allocations of its own; the median round is read


async def run(admin_url: str, count: int, seed: int, work_dir: Path, keep: bool = False,
              processes: int | None = None, rounds: int = ROUNDS) -> Section:
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
        processes = processes or os.cpu_count() or 1
        prepared = await _prepare_awards(target, count, seed, warm_up=count, rounds=rounds)
        allocation_ids = [allocation_id for round_ in prepared.rounds for allocation_id in round_.allocation_ids]
        setup = time.perf_counter() - started
        races = await _race(target, prepared, processes)
        books = await _books(target, allocation_ids)
    finally:
        if not keep:
            await drop_postgres_database(admin_url, name)
    # The median round by its wall time: a round's 40 confirmations take well under a second, so one slow moment
    # of a shared machine moves a single round's figure a lot; the median of three does not follow one outlier.
    race = sorted(races, key=lambda result: result["wall"])[len(races) // 2]
    rates = [count / result["wall"] for result in races]
    latency = percentiles(race["latencies"])
    section.add("concurrent award confirmations, each round", count, "awards")
    section.add("rounds (each on awards and allocations of its own)", rounds, "rounds")
    section.add("processes confirming (as `dps serve --workers`)", processes, "processes")
    section.add("shared fund allocations, each round", len(prepared.rounds[0].allocation_ids), "allocations")
    section.add("confirmed (funds committed), every round", sum(result["committed"] for result in races), "awards")
    section.add("refused (not enough money left), every round", sum(result["refused"] for result in races), "awards")
    section.add("failed with another error, every round", sum(result["errors"] for result in races), "awards", "0")
    section.add("decided per second, each round", " / ".join(f"{rate:.1f}" for rate in rates), "awards/s")
    section.add("wall time, the median round", race["wall"], "s")
    # The figure of 13.9 "commits" a second was this benchmark's confirmations decided a second (each one
    # transaction, committed or refused), so the target is read on that figure; the funded ones are shown too.
    section.add("confirmations decided per second (committed or refused), the median round",
                count / race["wall"] if race["wall"] else None, "awards/s", ">= 100")
    section.add("confirmations committed per second (funded), the median round",
                race["committed"] / race["wall"] if race["wall"] else None, "commits/s")
    section.add("Python time of a confirmation (the processes' CPU time / confirmations), the median round",
                race["cpu"] / count * 1000, "ms")
    section.add("confirmation latency p50 / p99, the median round", f"{latency['p50']:.0f} / {latency['p99']:.0f}",
                "ms")
    section.add("allocated money committed", books["used"] * 100, "%")
    section.add("largest overspend of an allocation", max(0, books["overspend"]), "pence", "0")
    section.add("books balance (ledger, lines, balances)",
                "yes" if books["book_problems"] == 0 and books["lines_match"] else "NO", "", "yes")
    warm_up_failures = race["warm_up_failures"]
    warmed = len(prepared.warm_up_awards) - warm_up_failures
    committed = sum(result["committed"] for result in races)
    section.add("contracts created = confirmations", "yes" if books["contracts"] == committed + warmed else "NO")
    section.notes.append(f"PostgreSQL {version}; setup (competitions to standstill through the services for "
                         f"{rounds} rounds, and {count} more for the warm-up) took {setup:.0f} s. Each of the "
                         f"{processes} processes first confirmed its share of the warm-up awards on a fund of their "
                         f"own{'' if not warm_up_failures else ' (' + str(warm_up_failures) + ' failed)'}, so its "
                         "pooled connections had prepared their statements, as a running server's have; the same "
                         "processes then run every round. Every confirmation writes audit events, which only insert "
                         "rows of their own (the sealer chains them afterwards), so confirmations wait only on the "
                         "allocations they share.")
    for sample in race["error_samples"]:
        section.notes.append(f"error: {sample}")
    if books["overspend"] > 0 or books["book_problems"] or not books["lines_match"]:
        section.notes.append("OVERSPEND OR UNBALANCED BOOKS: this is a bug in the product.")
    return section

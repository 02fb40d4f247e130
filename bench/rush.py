"""The deadline rush (PostgreSQL): invited suppliers submit and revise their bids in the last minute before a tender
deadline, over HTTP, each request over a connection of its own; then more arrive in the seconds after it.

`dps serve` (one uvicorn worker, the embedded outbox worker and audit sealer running) serves a competition whose
deadline is set in real time, `--rush-seconds` after the suppliers have signed in. `--rush-submissions` requests
(each supplier's first submission, then revisions by suppliers at random) are spread at random over those seconds,
and `--rush-after` more over the 5 seconds after the deadline. Every request is judged by the time the server
received it, which each response states (`X-Received-At`, taken as the request arrives, before any lock or
queue): a decision is wrong if a bid received before the deadline was refused or one received at or after it was
accepted. The audit log is checked too: one sealed step per accepted request, none at or after the deadline, and
how long the sealer took to chain them.

The benchmark makes its own database (dps_bench_<random>) and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.database import Target, create_postgres_database, drop_postgres_database, postgres_answers, throwaway_name
from bench.load import product_server
from bench.report import Section, console, percentiles

AFTER_SECONDS = 5.0
PASSWORD = "Rush-hour-bid-2026"


@dataclass
class Outcome:
    scheduled: float  # seconds from the deadline (negative: before it)
    sent_at: float = 0.0
    latency_ms: float = 0.0
    status: int = 0
    received_at: datetime | None = None
    decision: str = "error"  # accepted, refused or error
    error: str = ""


@dataclass
class Setup:
    category_id: int = 0
    invited: int = 0
    bidder_emails: list[str] = field(default_factory=list)
    trust: tuple[int, int, int] = (0, 0, 0)  # (organisation, buyer user, evaluator user)


async def _prepare(target: Target, suppliers: int, seed: int) -> Setup:
    """Suppliers admitted to one category (bulk rows), each admin given a password; one trust's buyer."""
    from argon2 import PasswordHasher

    from bench.generate import DEFAULT_AS_OF, Sizes, write_bulk
    from dps.db import make_engine

    # Admissions spread over the categories: generate enough suppliers for the busiest to hold `suppliers`.
    population, _, _ = await write_bulk(target, Sizes(0, suppliers * 5, 0), seed, DEFAULT_AS_OF)
    category_id, admitted = max(population.active_admissions.items(), key=lambda item: len(item[1]))
    rng = random.Random(f"{seed}:rush")
    bidders = sorted(rng.sample(sorted(admitted), min(suppliers, len(admitted))))
    user_ids = [population.supplier_admin_user[organisation_id] for organisation_id in bidders]
    # Cheap parameters are read back from the hash itself, so 300 sign-ins do not dominate the setup.
    password_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    engine = make_engine(target.settings().database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text("UPDATE user_account SET password_hash = :hash WHERE id = ANY(:ids)"),
                                     {"hash": password_hash, "ids": user_ids})
            emails = dict((await connection.execute(
                sa.text("SELECT id, email FROM user_account WHERE id = ANY(:ids)"), {"ids": user_ids})).all())
    finally:
        await engine.dispose()
    return Setup(category_id=category_id, invited=len(admitted),
                 bidder_emails=[emails[user_id] for user_id in user_ids], trust=population.trusts[0])


async def _publish(target: Target, setup: Setup, deadline: datetime, seed: int) -> int:
    """A competition of the category closing at `deadline` (real time), published 14 days before it."""
    from dps.competitions.demo import CRITERIA
    from dps.competitions.forms import CompetitionInput
    from dps.competitions.services import drafting
    from dps.db import make_engine, make_sessionmaker
    from dps.identity.services import load_signed_in_user

    engine = make_engine(target.settings().database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            organisation_id, buyer_id, evaluator_id = setup.trust
            buyer = await load_signed_in_user(session, buyer_id)
            assert buyer is not None
            published = deadline - timedelta(days=14)
            starts_on = (deadline + timedelta(days=45)).date()
            data = CompetitionInput(
                buyer_organisation_id=organisation_id, category_id=setup.category_id,
                title="Virtual ward remote monitoring: the deadline rush", requirement="Remote monitoring.",
                estimated_value_pence=random.Random(seed).randint(20, 400) * 1000_00, contract_starts_on=starts_on,
                contract_ends_on=starts_on + timedelta(days=364), clarification_deadline=published + timedelta(days=7),
                tender_deadline=deadline, criteria=CRITERIA, evaluator_user_ids=(evaluator_id,))
            competition = await drafting.create_competition(session, buyer, data, published - timedelta(hours=1))
            await drafting.publish(session, buyer, competition.id or 0, published)
            await session.commit()
            return competition.id or 0
    finally:
        await engine.dispose()


def _schedule(emails: list[str], submissions: int, after: int, window: float, seed: int) -> list[tuple[float, str]]:
    """(seconds from the deadline, supplier) for every request: each supplier's first submission, then revisions."""
    rng = random.Random(f"{seed}:schedule")
    who = list(emails) + [rng.choice(emails) for _ in range(max(0, submissions - len(emails)))]
    who = who[:submissions]
    rng.shuffle(who)
    before = sorted(-window + rng.random() * window for _ in who)
    later = sorted(rng.random() * AFTER_SECONDS for _ in range(after))
    return list(zip(before, who, strict=True)) + [(offset, rng.choice(emails)) for offset in later]


def _form(client: httpx.AsyncClient, number: int) -> dict[str, str]:
    from bench.lifecycle import ANSWERS

    return {**{f"answer-{key}": text for key, text in ANSWERS.items()}, "price": f"{90_000 + number:,}",
            "vat": "0", "action": "submit", "_csrf_token": client.cookies.get("csrftoken") or ""}


async def _sign_in(base_url: str, emails: list[str]) -> dict[str, httpx.AsyncClient]:
    clients: dict[str, httpx.AsyncClient] = {}
    semaphore = asyncio.Semaphore(8)

    async def one(email: str) -> None:
        client = httpx.AsyncClient(base_url=base_url, timeout=60, follow_redirects=False,
                                   limits=httpx.Limits(max_keepalive_connections=0))
        async with semaphore:
            await client.get("/login")
            response = await client.post("/login", data={"email": email, "password": PASSWORD, "next": "",
                                                         "_csrf_token": client.cookies.get("csrftoken") or ""})
        if response.status_code != 303:
            raise RuntimeError(f"sign-in of {email} answered {response.status_code}")
        clients[email] = client

    await asyncio.gather(*(one(email) for email in emails))
    return clients


async def _rush(clients: dict[str, httpx.AsyncClient], path: str, plan: list[tuple[float, str]],
                deadline_at: float) -> list[Outcome]:
    """Send each request at its time (`deadline_at` is the deadline on the event loop's clock)."""
    loop = asyncio.get_running_loop()
    outcomes = [Outcome(offset) for offset, _ in plan]

    async def send(number: int, email: str) -> None:
        outcome = outcomes[number]
        delay = deadline_at + outcome.scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        client = clients[email]
        began = loop.time()
        outcome.sent_at = began - deadline_at
        try:
            response = await client.post(path, data=_form(client, number))
        except Exception as error:  # counted and shown
            outcome.error = f"{type(error).__name__}: {error}"[:200]
            outcome.latency_ms = (loop.time() - began) * 1000
            return
        outcome.latency_ms = (loop.time() - began) * 1000
        outcome.status = response.status_code
        header = response.headers.get("x-received-at")
        outcome.received_at = datetime.fromisoformat(header) if header else None
        if response.status_code == 303:
            outcome.decision = "accepted"
        elif response.status_code == 409 and "The tender deadline passed" in response.text:
            outcome.decision = "refused"
        else:
            outcome.error = f"HTTP {response.status_code}: {response.text[-200:]}"

    await asyncio.gather(*(send(number, email) for number, (_, email) in enumerate(plan)))
    return outcomes


async def _audit(target: Target, since: datetime, deadline: datetime) -> dict[str, Any]:
    from dps.db import make_engine

    engine = make_engine(target.settings().database_url)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(sa.text(
                "SELECT count(*) FILTER (WHERE occurred_at < :deadline), "
                "count(*) FILTER (WHERE occurred_at >= :deadline), "
                "count(*) FILTER (WHERE sequence IS NULL), "
                "max(extract(epoch FROM sealed_at - occurred_at)) "
                "FROM audit_event WHERE action = 'bid.sealed_step' AND occurred_at >= :since"),
                {"deadline": deadline, "since": since})).one()
    finally:
        await engine.dispose()
    return {"before": int(row[0]), "after": int(row[1]), "unsealed": int(row[2]),
            "seal_lag": float(row[3]) if row[3] is not None else None}


async def run(admin_url: str, work_dir: Path, *, suppliers: int, submissions: int, after: int, window: float,
              seed: int, keep: bool = False) -> Section:
    section = Section("Deadline rush (PostgreSQL, over HTTP)")
    version = await postgres_answers(admin_url)
    if version is None:
        section.skipped = f"PostgreSQL does not answer at {admin_url}"
        return section
    name = throwaway_name()
    url = await create_postgres_database(admin_url, name)
    target = Target(url, (work_dir / "rush").resolve())
    server = None
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        from bench.generate import DEFAULT_AS_OF, prepare

        await asyncio.to_thread(prepare, target, DEFAULT_AS_OF)
        setup = await _prepare(target, suppliers, seed)
        environment = target.environment(OUTBOX_WORKER="inprocess", LOGIN_RATE_LIMIT_PER_MINUTE="1000000",
                                         SMTP_URL="smtp://127.0.0.1:9")  # mail fails fast and is retried later
        server = product_server(environment, work_dir / "logs" / "rush-server.log")
        console.print("Starting `dps serve` (one uvicorn worker, embedded outbox worker and audit sealer)")
        await asyncio.to_thread(server.start)
        console.print(f"Signing in {len(setup.bidder_emails)} suppliers")
        clients = await _sign_in(server.base_url, setup.bidder_emails)
        lead = 3.0
        deadline = (datetime.now(UTC) + timedelta(seconds=window + lead)).replace(microsecond=0)
        competition_id = await _publish(target, setup, deadline, seed)
        plan = _schedule(setup.bidder_emails, submissions, after, window, seed)
        loop = asyncio.get_running_loop()
        deadline_at = loop.time() + (deadline - datetime.now(UTC)).total_seconds()
        console.print(f"Rush: {submissions} requests over the {window:.0f} s before the deadline "
                      f"({deadline:%H:%M:%S} UTC), {after} in the {AFTER_SECONDS:.0f} s after")
        outcomes = await _rush(clients, f"/supplier/competitions/{competition_id}/bid", plan, deadline_at)
        await asyncio.sleep(5)  # the sealer's promise: every committed event sealed within 5 s
        audit = await _audit(target, deadline - timedelta(seconds=window + lead + 60), deadline)
    finally:
        for client in clients.values():
            await client.aclose()
        if server is not None:
            server.stop()
        if not keep:
            await drop_postgres_database(admin_url, name)

    accepted = [o for o in outcomes if o.decision == "accepted"]
    refused = [o for o in outcomes if o.decision == "refused"]
    errors = [o for o in outcomes if o.decision == "error"]
    wrong = [o for o in accepted + refused if o.received_at is None
             or (o.decision == "accepted") != (o.received_at < deadline)]
    latency = percentiles([o.latency_ms for o in outcomes if not o.error] or [0.0])
    queued_ms = [((o.received_at - deadline).total_seconds() - o.sent_at) * 1000 for o in outcomes
                 if o.received_at is not None]
    section.add("invited suppliers (bidding)", f"{setup.invited} ({len(setup.bidder_emails)})", "suppliers")
    section.add(f"submissions and revisions in the last {window:.0f} s", submissions, "requests")
    section.add(f"requests in the {AFTER_SECONDS:.0f} s after the deadline", after, "requests")
    section.add("accepted", len(accepted), "requests")
    section.add("refused (received at or after the deadline)", len(refused), "requests")
    section.add("errors (not 303 or a deadline refusal)", len(errors), "requests", "0")
    section.add("wrong decisions (by the server's received time)", len(wrong), "requests", "0")
    section.add("latency p50 / p95 / p99",
                f"{latency['p50']:.0f} / {latency['p95']:.0f} / {latency['p99']:.0f}", "ms", "p99 <= 1000")
    section.add("sent to received, largest (client clock to server clock)",
                max(queued_ms, default=0.0), "ms")
    section.add("audit steps before / at or after the deadline", f"{audit['before']} / {audit['after']}", "events",
                f"{len(accepted)} / 0")
    section.add("audit steps unsealed 5 s after the rush", audit["unsealed"], "events", "0")
    section.add("longest wait to be sealed", audit["seal_lag"], "s", "<= 5")
    section.notes.append(f"PostgreSQL {version}; each request over a connection of its own; the server's received "
                         "time (X-Received-At) decides, as the product does.")
    for sample in [o.error for o in errors][:3]:
        section.notes.append(f"error: {sample}")
    return section

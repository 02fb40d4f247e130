"""`kill -9` of `dps serve` in the middle of a burst of writes: suppliers edit their published listings and submit and
revise bids, the buyer confirms an award, all at once over HTTP, and the server is killed mid-burst. After it:
every write committed whole (the entity, its audit event, its outbox row) or not at all, and every write the server
acknowledged is there; the server starts again on the same database; `dps audit verify` passes once the log is
sealed; the outbox delivers what was committed exactly once to each consumer."""

from __future__ import annotations

import asyncio
import html
import os
import signal
import subprocess
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from catalogue.models import Listing, ListingVersion
from dps.agreements.models import Category
from dps.audit.models import AuditEvent
from dps.clock import SystemClock
from dps.competitions.models import Bid, Competition
from dps.contracts.models import Contract
from dps.outbox.models import OutboxMessage
from tests.catalogue.support import form_data, published_listing
from tests.competitions.support import bid_form
from tests.factories import make_competition_world, make_published_competition
from tests.helpers import csrf_token, scalar, seal_audit_log, sign_in
from tests.test_cli import DPS, run_dps
from tests.transparency.support import awarded_competition

pytestmark = [pytest.mark.xdist_group("postgres_concurrency"), pytest.mark.usefixtures("postgres_concurrency_lock")]

STARTUP_SECONDS = 120  # a bound for a busy machine, not a wait
ACKNOWLEDGED_BEFORE_THE_KILL = 12
MILESTONE = {"milestone-1-title": "Go live", "milestone-1-due-day": "31", "milestone-1-due-month": "3",
             "milestone-1-due-year": "2027", "milestone-1-amount": "90,000"}  # the winning bid's price, no VAT


def evidence_in_date(now: Any) -> dict[str, str]:
    """Listing evidence still in date by the real clock the server reads: this financial year's DSPT publication
    (stale after the next 30 June) and a Cyber Essentials certificate two years ahead."""
    year = now.year if now.month >= 4 else now.year - 1
    return {"dspt__year": f"{year}/{(year + 1) % 100:02d}", "cyber_essentials__expiry-year": str(now.year + 2)}


def date_fields(name: str, when: Any, time: str | None = None) -> dict[str, str]:
    fields = {f"{name}-day": str(when.day), f"{name}-month": str(when.month), f"{name}-year": str(when.year)}
    return {**fields, f"{name}-time": time} if time else fields


class Server:
    """`dps serve` as a subprocess on a port, draining nothing itself (the test drains the outbox)."""

    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([DPS, "serve", "--port", str(port)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_SECONDS
        async with httpx.AsyncClient(base_url=self.base, timeout=5) as http:
            while True:
                assert self.process.poll() is None, "dps serve exited"
                try:
                    await http.get("/health")
                    return
                except httpx.TransportError:
                    assert loop.time() < deadline, "dps serve did not answer"
                    await asyncio.sleep(0.1)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def snapshot(db) -> dict[str, Any]:
    """What the burst's writes change, counted per entity."""
    async def counts(statement: Any) -> dict[Any, int]:
        rows = (await db.execute(statement)).all()
        await db.commit()
        return {key: count for key, count in rows}

    listing_events = await counts(sa.select(AuditEvent.entity_id, sa.func.count())
                                  .where(AuditEvent.action == "listing.updated").group_by(AuditEvent.entity_id))
    search_rows = Counter(key.split(":")[1] for key in (await db.scalars(
        sa.select(OutboxMessage.dedupe_key).where(OutboxMessage.topic == "search-index"))).all())
    await db.commit()
    return {
        "listing_version": await counts(sa.select(Listing.id, Listing.version)),
        "listing_versions": await counts(sa.select(ListingVersion.listing_id, sa.func.count())
                                         .group_by(ListingVersion.listing_id)),
        "listing_events": {int(key): count for key, count in listing_events.items()},
        "search_rows": {int(key): count for key, count in search_rows.items()},
        "bid_revisions": await scalar(db, sa.select(sa.func.coalesce(sa.func.sum(Bid.revision), 0))),
        "bid_steps": await scalar(db, sa.select(sa.func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.action == "bid.sealed_step")),
        "sealed_emails": await scalar(db, sa.select(sa.func.count()).select_from(OutboxMessage)
                                      .where(OutboxMessage.dedupe_key.like("email:sealed:%"))),
    }


def delta(after: dict[int, int], before: dict[int, int], key: int) -> int:
    return after.get(key, 0) - before.get(key, 0)


async def test_a_server_killed_mid_burst_loses_no_committed_write_and_keeps_no_half_write(
        client, db, passwords, clock, settings, free_port, drain_outbox, backend):
    real_now = SystemClock().now()
    still_valid = evidence_in_date(real_now)
    world = await make_competition_world(db, passwords, clock)
    _, award_id = await awarded_competition(db, passwords, clock, world=world, confirm=False)  # standstill ended
    clock.set(real_now - timedelta(hours=1))
    open_id = await make_published_competition(
        db, clock, world=world, title="Falls sensors for 40 care homes",
        **date_fields("tender_deadline", real_now + timedelta(days=30), "12:00"),
        **date_fields("clarification_deadline", real_now + timedelta(days=20), "12:00"),
        **date_fields("contract_starts_on", real_now + timedelta(days=60)),
        **date_fields("contract_ends_on", real_now + timedelta(days=400)))
    slug = await scalar(db, sa.select(Category.slug).where(Category.id == world.category_id))
    listings = {}
    for party in world.bidders:
        await sign_in(client, party.user.email)
        listings[party.user.email] = await published_listing(client, db, still_valid, slug=slug)
        await client.get("/logout")
        client.cookies.clear()
    before = await snapshot(db)

    env = {**os.environ, "DPS_ENV": "test", "DATABASE_URL": settings.database_url,
           "DPS_VAR_DIR": str(settings.var_dir), "OUTBOX_WORKER": "off", "SMTP_URL": settings.smtp_url}
    server = Server(free_port, env)
    acknowledged: dict[str, list[int]] = {email: [] for email in listings}  # listing edits answered 303
    confirm_answer: list[int] = []
    try:
        await server.ready()
        stop = asyncio.Event()

        async def signed_in_browser(email: str) -> tuple[httpx.AsyncClient, str]:
            browser = httpx.AsyncClient(base_url=server.base, timeout=30)
            response = await sign_in(browser, email)
            assert response.status_code == 303, response.text[-1000:]
            return browser, await csrf_token(browser, "/")

        # Every browser signs in before the burst, so the kill finds each one mid-write, never mid-sign-in.
        signed_in = {email: await signed_in_browser(email) for email in [*listings, world.buyer.user.email]}

        async def supplier(email: str) -> None:
            browser, token = signed_in[email]
            listing_id = listings[email]
            try:
                for n in range(1000):
                    if stop.is_set():
                        return
                    edit = form_data({**still_valid, "name": f"Wearable patch, edit {n}"}, world.category_id)
                    response = await browser.post(f"/supplier/listings/{listing_id}",
                                                  data={**edit, "_csrf_token": token})
                    assert response.status_code == 303, response.text[-2000:]
                    acknowledged[email].append(n)
                    response = await browser.post(f"/supplier/competitions/{open_id}/bid",
                                                  data={**bid_form(f"{100_000 + n}"), "_csrf_token": token})
                    assert response.status_code == 303, response.text[-2000:]
            except httpx.TransportError:
                return  # the server died under this request
            finally:
                await browser.aclose()

        async def buyer() -> None:
            browser, token = signed_in[world.buyer.user.email]
            try:
                while sum(map(len, acknowledged.values())) < ACKNOWLEDGED_BEFORE_THE_KILL // 2:
                    await asyncio.sleep(0.01)
                response = await browser.post(f"/buyer/competitions/{award_id}/confirm",
                                              data={**MILESTONE, "_csrf_token": token})
                assert response.status_code == 303, response.text[-2000:]
                confirm_answer.append(response.status_code)
            except httpx.TransportError:
                return
            finally:
                await browser.aclose()

        tasks = [asyncio.create_task(supplier(email)) for email in listings] + [asyncio.create_task(buyer())]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_SECONDS
        while sum(map(len, acknowledged.values())) < ACKNOWLEDGED_BEFORE_THE_KILL:
            failed = [task.exception() for task in tasks if task.done() and task.exception() is not None]
            assert not failed, failed
            assert loop.time() < deadline, f"the burst stalled: {acknowledged}"
            await asyncio.sleep(0.01)
        server.kill()  # in the middle of the burst: requests are in flight
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert [result for result in results if result is not None] == []
    finally:
        server.stop()

    # Every write whole or not at all; every acknowledged write there.
    after = await snapshot(db)
    committed_names = {}
    for email, listing_id in listings.items():
        edits = delta(after["listing_version"], before["listing_version"], listing_id)
        assert edits >= len(acknowledged[email])  # acknowledged edits are all there (one more may have committed)
        assert delta(after["listing_versions"], before["listing_versions"], listing_id) == edits
        assert delta(after["listing_events"], before["listing_events"], listing_id) == edits
        assert delta(after["search_rows"], before["search_rows"], listing_id) == edits
        name = committed_names[listing_id] = await scalar(db, sa.select(Listing.name).where(Listing.id == listing_id))
        if acknowledged[email]:
            assert int(name.rsplit(" ", 1)[1]) >= acknowledged[email][-1]
    submissions = after["bid_revisions"] - before["bid_revisions"]
    assert submissions > 0
    assert after["bid_steps"] - before["bid_steps"] == submissions
    assert after["sealed_emails"] - before["sealed_emails"] == submissions
    state = await scalar(db, sa.select(Competition.state).where(Competition.id == award_id))
    contracts = await scalar(db, sa.select(sa.func.count()).select_from(Contract)
                             .where(Contract.competition_id == award_id))
    confirmations = await scalar(db, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.entity_type == "competition", AuditEvent.entity_id == str(award_id),
        AuditEvent.action == "competition.awarded"))
    assert (state, contracts, confirmations) in (("awarded", 1, 1), ("standstill", 0, 0)), (state, contracts,
                                                                                         confirmations)
    if confirm_answer:
        assert state == "awarded"

    # The server starts again on the same database and serves what was committed.
    server = Server(free_port, env)
    try:
        await server.ready()
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            for listing_id, name in committed_names.items():  # a listing the kill left unedited keeps its first name
                page = await http.get(f"/catalogue/innovations/{listing_id}")
                assert page.status_code == 200 and html.escape(name) in page.text
    finally:
        server.stop()

    # The audit log seals and verifies.
    await seal_audit_log(db, real_now)
    verified = run_dps("audit", "verify", env={"DATABASE_URL": settings.database_url,
                                               "DPS_VAR_DIR": str(settings.var_dir)})
    assert verified.returncode == 0, verified.stderr
    assert "Unsealed tail: none." in verified.stdout

    # The outbox delivers what was committed, exactly once to each consumer.
    waiting = (await db.scalars(sa.select(OutboxMessage.id).where(OutboxMessage.processed_at.is_(None)))).all()
    topics = set((await db.scalars(sa.select(OutboxMessage.topic))).all())
    await db.commit()
    delivered: Counter[tuple[str, int]] = Counter()

    def recorder(topic: str) -> Any:
        async def consume(message: OutboxMessage) -> None:
            delivered[(topic, message.id or 0)] += 1
        return consume

    clock.set(real_now + timedelta(days=1))
    consumers = {topic: recorder(topic) for topic in topics}
    report = await drain_outbox(consumers=consumers)
    assert (report.delivered, report.failed) == (len(waiting), 0)
    assert (await drain_outbox(consumers=consumers)).delivered == 0
    assert sorted(message_id for _, message_id in delivered) == sorted(waiting)
    assert set(delivered.values()) == {1}

"""C5: before the deadline nothing reveals a bid or who has bid, to the buyer or to anyone else.

The test walks every GET route in the app's route table (path parameters filled with the competition's id and the
ids bids will get) as the buyer, an evaluator, another buyer, an invited supplier that does not bid, the DPS
authority's admin and an anonymous visitor: once before any bid exists and once after bids have been drafted,
submitted, revised and withdrawn. Every page and JSON body must be identical (so no count, name, state or price
moved), and no buyer or API page may contain a bidder's name, price or answer. The audit log may only have gained
opaque "sealed" events; log records must not mention a bid either.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import logging
import re
from datetime import UTC, datetime

import sqlalchemy as sa
from litestar.routes import HTTPRoute

from dps.audit.models import AuditEvent
from dps.competitions.models import Bid
from dps.competitions.rules import CLOSING_GRACE
from dps.identity.models import Role
from tests.competitions.support import Browser, bid_form, competition_id_from
from tests.factories import competition_form, make_authority_user, make_competition_world
from tests.helpers import scalar

OUR_LOGGERS = {"dps", "catalogue", "buyer_portal", "supplier_portal", "authority_portal", "litestar", "uvicorn"}
SKIPPED_PREFIXES = ("/assets", "/static", "/schema", "/api/openapi.json", "/logout")
SECRET_ANSWERS = {"q1": "Zephyrine telemetry halves readmissions", "q2": "Quillfeather carbon ledger",
                  "q3": "Marrowgate apprenticeship scheme"}
PRICES = ("97,531", "86,420")
PARAMETER = re.compile(r"\{(\w+):(\w+)\}")
VOLATILE = [re.compile(r'nonce="[^"]*"'), re.compile(r'name="_csrf_token" value="[^"]*"'),
            re.compile(r'"csrf[^"]*":\s*"[^"]*"')]


def get_paths(app, ids: list[int], keys: list[str]) -> list[str]:
    """Every GET route of the app, each path parameter filled with every candidate of its type."""
    paths = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "GET" not in route.methods or route.path.startswith(SKIPPED_PREFIXES):
            continue
        parameters = PARAMETER.findall(route.path)
        choices = [[str(i) for i in ids] if kind == "int" else keys for _, kind in parameters]
        for values in itertools.product(*choices):
            path = route.path
            for (name, kind), value in zip(parameters, values, strict=True):
                path = path.replace(f"{{{name}:{kind}}}", value)
            paths.append(path)
    return sorted(set(paths))


def normalised(body: str) -> str:
    for pattern in VOLATILE:
        body = pattern.sub("", body)
    return body


async def walk(browser: Browser, people: dict[str, tuple[str | None, tuple[str, ...]]],
               paths: list[str]) -> dict[tuple[str, str], tuple]:
    """Each person reads the paths under their prefixes (the buyer reads every path of the app)."""
    seen = {}
    for who, (email, prefixes) in people.items():
        for path in paths:
            if not path.startswith(prefixes):
                continue
            if email is None:
                browser.client.cookies.clear()
                browser.current = None
                response = await browser.client.get(path)
            else:
                response = await browser.get(email, path)
            seen[(who, path)] = (response.status_code, normalised(response.text))
    return seen


def audit_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_no_read_path_reveals_a_bid_before_the_deadline(client, app, db, passwords, clock, caplog):
    world = await make_competition_world(db, passwords, clock)
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    # The walk reads the open data API twice as an anonymous visitor: more than its per-address limit a minute.
    app.state.settings = dataclasses.replace(app.state.settings, anonymous_api_rate_limit_per_minute=1_000_000)
    browser = Browser(client)
    buyer = world.buyer.email
    acme, bright, carewave = world.bidders
    competition_id = competition_id_from(await browser.post(buyer, "/buyer/competitions", competition_form(world)))
    assert (await browser.post(buyer, f"/buyer/competitions/{competition_id}/publish")).status_code == 303

    public = ("/catalogue", "/api", "/health", "/login", "/register", "/verify-email", "/invitations")
    people = {"buyer": (buyer, ("/",)), "evaluator": (world.evaluators[0].email, ("/buyer", "/api")),
              "other buyer": (world.other_buyer.email, ("/buyer/competitions", "/api")),
              "invited non-bidder": (carewave.email, ("/supplier/competitions",)),
              "authority admin": (admin.email, ("/authority", "/api")), "anonymous": (None, public)}
    candidate_ids = sorted({competition_id, 1, 2})  # the competition, and the ids its two bids will get
    paths = get_paths(app, candidate_ids, ["q1", "price", str(competition_id)])
    assert any(p.startswith("/buyer/competitions/") for p in paths) and any(p.startswith("/api/") for p in paths)
    audit_paths = [p for p in paths if p.startswith("/authority/audit")]
    compared = [p for p in paths if p not in audit_paths]
    before = await walk(browser, people, compared)
    audit_before = audit_rows((await browser.get(admin.email, "/authority/audit/export.csv")).text)

    # Bidding: a draft, a submission, a revision, a withdrawal and a resubmission.
    caplog.set_level(logging.DEBUG)
    bid_path = f"/supplier/competitions/{competition_id}/bid"
    answers = dict(q1=SECRET_ANSWERS["q1"], q2=SECRET_ANSWERS["q2"], q3=SECRET_ANSWERS["q3"])
    assert (await browser.post(acme.email, bid_path, bid_form(PRICES[0], action="save", **answers))).status_code == 200
    assert (await browser.post(acme.email, bid_path, bid_form(PRICES[0], **answers))).status_code == 303
    assert (await browser.post(bright.email, bid_path, bid_form(PRICES[1], **answers))).status_code == 303
    assert (await browser.post(bright.email, bid_path, bid_form(PRICES[0], **answers))).status_code == 303
    assert (await browser.post(bright.email, f"{bid_path}/withdraw")).status_code == 303
    assert (await browser.post(bright.email, bid_path, bid_form(PRICES[1], **answers))).status_code == 303
    bid_ids = (await db.scalars(sa.select(Bid.id).where(Bid.competition_id == competition_id))).all()
    await db.commit()
    assert len(bid_ids) == 2 and set(bid_ids) <= set(candidate_ids)
    secrets = [*SECRET_ANSWERS.values(), *PRICES, *(p.replace(",", "") for p in PRICES),
               "9753100", "8642000", acme.name, bright.name, acme.email, bright.email]
    # Our own loggers at every level, everyone's at INFO and above (database drivers print every query's
    # parameters at DEBUG, for every table alike; nothing here turns that on).
    records = [r for r in caplog.records if r.levelno >= logging.INFO or r.name.split(".")[0] in OUR_LOGGERS]
    assert records, "nothing was logged: the check would be empty"
    assert not [(r.name, r.getMessage()[:200]) for r in records if any(s in r.getMessage() for s in secrets)]

    after = await walk(browser, people, compared)
    changed = sorted(key for key in before if before[key] != after[key])
    assert changed == [], f"pages changed because of a sealed bid: {changed[:10]}"

    # Buyer-side and API pages never name a bidder, show a price or an answer, or count bids.
    for (who, path), (_status, body) in after.items():
        if who in ("buyer", "evaluator", "other buyer") and path.startswith(("/buyer", "/api")):
            assert not [s for s in secrets if s in body], (who, path)
            assert "Bids received" not in body, (who, path)
    overview = after[("buyer", f"/buyer/competitions/{competition_id}")]
    assert overview[0] == 200 and "Bids are sealed until the tender deadline" in overview[1]
    assert after[("buyer", f"/buyer/competitions/{competition_id}/ranking")][0] == 200  # shows nothing yet
    assert after[("evaluator", f"/buyer/competitions/{competition_id}/evaluation")][0] == 409

    # The audit log gained only opaque sealed events: no bidder, bid, competition or content.
    for path in audit_paths:
        assert (await browser.get(admin.email, path)).status_code == 200
    audit_after = audit_rows((await browser.get(admin.email, "/authority/audit/export.csv")).text)
    # (Signing in is audited as ever: it says nothing about bidding.)
    new = [row for row in audit_after[len(audit_before):] if row["action"] != "user.signed_in"]
    assert len(new) == 6 and {row["action"] for row in new} == {"bid.sealed_step"}
    assert len({row["entity_id"] for row in new}) == 6  # nothing links two steps of one bid
    for row in new:
        assert (row["actor_label"], row["actor_user_id"], row["entity_type"]) == ("system:sealed-bid", "", "sealed_bid")
        assert re.fullmatch(r"[0-9a-f]{32}", row["entity_id"]) and row["before"] == ""
        assert re.fullmatch(r"[0-9a-f]{64}", json.loads(row["after"]).pop("digest"))
        assert list(json.loads(row["after"])) == ["digest"]


async def test_after_the_deadline_the_bids_open_and_the_audit_tells_every_step(client, db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    browser = Browser(client)
    buyer = world.buyer.email
    acme, bright, _ = world.bidders
    competition_id = competition_id_from(await browser.post(buyer, "/buyer/competitions", competition_form(world)))
    await browser.post(buyer, f"/buyer/competitions/{competition_id}/publish")
    bid_path = f"/supplier/competitions/{competition_id}/bid"
    await browser.post(acme.email, bid_path, bid_form("90,000", action="save"))
    await browser.post(acme.email, bid_path, bid_form("90,000"))
    await browser.post(bright.email, bid_path, bid_form("95,000"))
    await browser.post(bright.email, f"{bid_path}/withdraw")

    clock.set(datetime(2026, 1, 16, 12, 0, tzinfo=UTC) + CLOSING_GRACE)  # closed once bids in flight are stored
    page = await browser.get(buyer, f"/buyer/competitions/{competition_id}")
    assert "Closed for bids" in page.text and acme.name in page.text
    unsealed = (await db.scalars(sa.select(AuditEvent).where(AuditEvent.action == "bid.unsealed")
                                 .order_by(AuditEvent.id))).all()
    await db.commit()
    steps = {event.after["organisation_id"]: [s["action"] for s in event.after["steps"]] for event in unsealed}
    assert steps == {acme.organisation.id: ["draft_saved", "submitted"],
                     bright.organisation.id: ["submitted", "withdrawn"]}
    digests = {event.after["digest"] for event in (await db.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "bid.sealed_step"))).all()}
    await db.commit()
    assert digests == {s["digest"] for event in unsealed for s in event.after["steps"]}
    closed_by = await scalar(db, sa.select(AuditEvent.actor_label).where(AuditEvent.action == "competition.closed"))
    assert closed_by == "system:clock"

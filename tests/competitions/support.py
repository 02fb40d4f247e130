"""Helpers for competition tests: a buyer with evaluators, admitted suppliers, and a browser per user."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa

from dps.admission.models import Admission, Application
from dps.agreements.models import Agreement, Category
from dps.db import make_engine, make_sessionmaker
from dps.identity.models import Organisation, Role, User
from dps.wiring import outbox_consumers
from dps.outbox.worker import OutboxWorker
from tests.helpers import make_supplier, make_trust, make_user, scalar, sign_in

# One category of each regime's agreement (reference data).
CATEGORY_OF_REGIME = {"pcr2015_dps": "virtual-wards", "pa2023_dynamic_market": "digital-therapeutics"}

ANSWERS = {
    "q1": "Our remote monitoring cut readmissions by a fifth across three trusts.",
    "q2": "Our carbon reduction plan commits to net zero by 2040 with annual reporting.",
    "q3": "We employ twelve apprentices from the local borough.",
}


@dataclass
class Party:
    organisation: Organisation
    user: User

    @property
    def name(self) -> str:
        return self.organisation.name

    @property
    def email(self) -> str:
        return self.user.email


@dataclass
class World:
    regime: str
    category_id: int
    category_name: str
    buyer: Party
    evaluators: list[User]
    bidders: list[Party]  # admitted and active: invited
    suspended: Party  # admitted but suspended: not invited
    outsider: Party  # admitted to another category: not invited
    other_buyer: Party  # a buyer of another trust
    extra: dict[str, Any] = field(default_factory=dict)


async def admit(db: Any, organisation: Organisation, user: User, category_id: int, now: datetime,
                state: str = "active") -> Admission:
    application = Application(organisation_id=organisation.id, category_id=category_id, state="admitted", answers={},
                              created_by_user_id=user.id, created_at=now, updated_at=now, submitted_at=now,
                              decided_at=now)
    db.add(application)
    await db.flush()
    admission = Admission(organisation_id=organisation.id, category_id=category_id, application_id=application.id,
                          state=state, admitted_at=now, state_changed_at=now)
    db.add(admission)
    await db.commit()
    return admission


async def build_world(db: Any, passwords: Any, clock: Any, regime: str = "pcr2015_dps") -> World:
    category = await scalar(db, sa.select(Category).join(Agreement).where(
        Category.slug == CATEGORY_OF_REGIME[regime], Agreement.regime == regime))
    other_category = await scalar(db, sa.select(Category.id).where(Category.slug == "imaging"))
    trust = await make_trust(db, clock, "St Elsewhere NHS Foundation Trust", "RX1")
    buyer = await make_user(db, passwords, clock, "bea@trust.example.nhs.uk", trust, Role.BUYER)
    evaluators = [await make_user(db, passwords, clock, f"{name}@trust.example.nhs.uk", trust, Role.EVALUATOR)
                  for name in ("eva", "evan")]
    other_trust = await make_trust(db, clock, "Other Hospitals NHS Trust", "RX2")
    other_buyer = await make_user(db, passwords, clock, "olly@other.example.nhs.uk", other_trust, Role.BUYER)
    now = clock.now()
    parties = []
    for index, name in enumerate(["Acme Health Ltd", "Brightwell Medical Ltd", "Carewave Digital Ltd",
                                  "Dormant Devices Ltd", "Elsewhere Imaging Ltd"], start=1):
        organisation = await make_supplier(db, clock, name=name, number=f"1200000{index}")
        user = await make_user(db, passwords, clock, f"bids@{name.split()[0].lower()}.example", organisation,
                               Role.SUPPLIER_ADMIN)
        parties.append(Party(organisation, user))
    for party in parties[:3]:
        await admit(db, party.organisation, party.user, category.id, now)
    await admit(db, parties[3].organisation, parties[3].user, category.id, now, state="suspended")
    await admit(db, parties[4].organisation, parties[4].user, other_category, now)
    return World(regime, category.id, category.name, Party(trust, buyer), evaluators, parties[:3], parties[3],
                 parties[4], Party(other_trust, other_buyer))


class Browser:
    """One test client that signs in as several people in turn, keeping each person's cookies."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.jars: dict[str, httpx.Cookies] = {}
        self.current: str | None = None

    async def be(self, email: str) -> Any:
        if self.current == email:
            return self.client
        if self.current is not None:
            self.jars[self.current] = httpx.Cookies(self.client.cookies)
        self.client.cookies.clear()
        if email in self.jars:
            for cookie in self.jars[email].jar:
                self.client.cookies.jar.set_cookie(cookie)
        else:
            response = await sign_in(self.client, email)
            assert response.status_code == 303, response.text[-500:]
        self.current = email
        return self.client

    async def get(self, email: str, path: str) -> Any:
        return await (await self.be(email)).get(path)

    async def post(self, email: str, path: str, data: dict[str, Any] | None = None) -> Any:
        client = await self.be(email)
        token = client.cookies.get("csrftoken")
        if not token:
            await client.get("/login")
            token = client.cookies.get("csrftoken")
        return await client.post(path, data={**(data or {}), "_csrf_token": token})


def competition_form(world: World, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "category_id": str(world.category_id), "title": "Remote monitoring for 200 virtual ward beds",
        "requirement": "Remote monitoring of up to 200 patients at home, with alerting to the virtual ward team.",
        "estimated_value": "250,000",
        "contract_starts_on-day": "1", "contract_starts_on-month": "4", "contract_starts_on-year": "2026",
        "contract_ends_on-day": "31", "contract_ends_on-month": "3", "contract_ends_on-year": "2027",
        "clarification_deadline-day": "12", "clarification_deadline-month": "1",
        "clarification_deadline-year": "2026", "clarification_deadline-time": "12:00",
        "tender_deadline-day": "16", "tender_deadline-month": "1", "tender_deadline-year": "2026",
        "tender_deadline-time": "12:00",
        "price-weight": "40",
        "q1-kind": "quality", "q1-title": "Clinical outcomes", "q1-question": "How will patient outcomes improve?",
        "q1-weight": "45", "q1-max_score": "5", "q1-word_limit": "20",
        "q2-kind": "net_zero", "q2-title": "Net zero", "q2-question": "How will you reduce carbon emissions?",
        "q2-weight": "10", "q2-max_score": "5", "q2-word_limit": "50",
        "q3-kind": "social_value", "q3-title": "Social value", "q3-question": "What social value will you add?",
        "q3-weight": "5", "q3-max_score": "10", "q3-word_limit": "50",
        "evaluator_ids": [str(u.id) for u in world.evaluators],
    }
    form.update(changes)
    return form


def competition_id_from(response: Any) -> int:
    assert response.status_code == 303, response.text[-3000:]
    return int(re.search(r"/buyer/competitions/(\d+)$", response.headers["location"]).group(1))


async def deliver_email(settings: Any, clock: Any) -> None:
    engine = make_engine(settings.database_url)
    await OutboxWorker(make_sessionmaker(engine), outbox_consumers(settings), clock).drain_all()
    await engine.dispose()


def bid_form(price: str, vat: str = "0", action: str = "submit", **answers: str) -> dict[str, str]:
    return {"answer-q1": answers.get("q1", ANSWERS["q1"]), "answer-q2": answers.get("q2", ANSWERS["q2"]),
            "answer-q3": answers.get("q3", ANSWERS["q3"]), "price": price, "vat": vat, "action": action}


async def signed_in(db: Any, user: User) -> Any:
    from dps.identity.services import load_signed_in_user

    person = await load_signed_in_user(db, user.id)
    await db.commit()
    return person


async def published_competition(db: Any, world: World, clock: Any, **changes: Any) -> int:
    """A competition created and published through the services (quicker than the pages, same rules)."""
    from dps.competitions.forms import parse_competition_form
    from dps.competitions.services import drafting

    form = competition_form(world, **changes)
    evaluator_ids = form.pop("evaluator_ids")
    parsed = parse_competition_form(form, evaluator_ids, world.buyer.organisation.id)
    assert parsed.data is not None, parsed.errors
    buyer = await signed_in(db, world.buyer.user)
    competition = await drafting.create_competition(db, buyer, parsed.data, clock.now())
    await drafting.publish(db, buyer, competition.id, clock.now())
    return competition.id


async def submit_bid(db: Any, party: Party, competition_id: int, clock: Any, price_pence: int,
                     answers: dict[str, str] | None = None) -> int:
    from dps.competitions.services import bidding

    saved = await bidding.save_bid(db, await signed_in(db, party.user), competition_id,
                                   answers=answers or ANSWERS, price_pence=price_pence, vat_pence=0, submit=True,
                                   now=clock.now())
    assert not saved.errors, saved.errors
    return saved.bid.id

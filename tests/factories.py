"""Typed builders for the data a test arranges: organisations, users with roles, admissions, competitions and
fund allocations. Each goes through the services where a service owns the change (so the audit trail and the
rules are as in real use), takes keyword arguments with sensible defaults, and commits before it returns: the app
under test sees what was built, and no transaction is left holding SQLite's write lock.

The reference data (loaded into every test's database) already holds the DPS authority, NHS England's regions and
its 42 ICBs, and the agreements with their categories: `authority`, `icb`, `organisation_by_ods` and `category_id`
look those up.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.admission.models import Admission, Application
from dps.agreements.models import Agreement, Category
from dps.api_keys.consumers import become_api_consumer
from dps.audit.services import Actor
from dps.clock import Clock
from dps.funds import services as funds
from dps.funds.models import Fund
from dps.funds.rules import FundRules
from dps.identity.models import Organisation, OrganisationKind, Role, User
from dps.identity.passwords import Passwords
from dps.identity.rules import BuyerType
from dps.identity.services import (
    SignedInUser,
    add_membership,
    create_organisation,
    create_user,
    load_signed_in_user,
)
from tests.helpers import PASSWORD, scalar

ACTOR = Actor.system("test")
POUND = 100  # pence

_user_numbers = itertools.count(1)


# --- reference data ---------------------------------------------------------------------------------------------

async def authority(db: AsyncSession) -> Organisation:
    """The DPS authority (reference data)."""
    return await scalar(db, sa.select(Organisation).where(Organisation.kind == OrganisationKind.AUTHORITY))


async def organisation_by_ods(db: AsyncSession, ods: str) -> Organisation | None:
    """The organisation with this ODS code (an ICB or region from the reference data, or a trust a test made)."""
    return await scalar(db, sa.select(Organisation).where(Organisation.ods_code == ods))


async def icb(db: AsyncSession, *, ods: str = "QMF") -> Organisation:
    """One of the 42 ICBs of the reference data (QMF: North East London)."""
    organisation = await organisation_by_ods(db, ods)
    assert organisation is not None and organisation.buyer_type == BuyerType.ICB, f"{ods} is not an ICB"
    return organisation


async def category_id(db: AsyncSession, slug: str) -> int:
    """The id of the reference data's category with this slug ("virtual-wards", "wearables-home-diagnostics", ...)."""
    found = await scalar(db, sa.select(Category.id).where(Category.slug == slug))
    assert found is not None, f"no category {slug!r}"
    return int(found)


# --- organisations and users ------------------------------------------------------------------------------------

async def make_supplier(db: AsyncSession, clock: Clock, *, name: str = "Acme Health Ltd",
                        number: str = "12345678") -> Organisation:
    """A supplier organisation with this Companies House number."""
    organisation = await create_organisation(db, kind=OrganisationKind.SUPPLIER, name=name,
                                             companies_house_number=number, actor=ACTOR, now=clock.now())
    await db.commit()
    return organisation


async def make_trust(db: AsyncSession, clock: Clock, *, name: str = "Test NHS Trust", ods: str = "RX1") -> Organisation:
    """A buyer organisation of the trust kind."""
    organisation = await create_organisation(db, kind=OrganisationKind.BUYER, name=name, ods_code=ods,
                                             buyer_type=BuyerType.TRUST, actor=ACTOR, now=clock.now())
    await db.commit()
    return organisation


async def make_user(db: AsyncSession, passwords: Passwords, clock: Clock, *, email: str | None = None,
                    organisation: Organisation | None = None, role: Role | None = None,
                    full_name: str | None = None, email_verified: bool = True) -> User:
    """A person whose password is `tests.helpers.PASSWORD`, with `role` in `organisation` when both are given (the
    service refuses a role that does not fit the kind of organisation). Without an email, a new address is made up."""
    if (organisation is None) != (role is None):
        raise TypeError("give both an organisation and a role, or neither")
    if email is None:
        email = f"{role or 'person'}-{next(_user_numbers)}@example.org"
    user = await create_user(db, passwords, email=email, full_name=full_name or email.split("@")[0],
                             password=PASSWORD, actor=ACTOR, now=clock.now(), email_verified=email_verified)
    if organisation is not None and role is not None:
        await add_membership(db, user=user, organisation=organisation, role=role, actor=ACTOR, now=clock.now())
    await db.commit()
    return user


async def make_supplier_with_user(db: AsyncSession, passwords: Passwords, clock: Clock, *,
                                  email: str = "ann@acme.example", name: str = "Acme Health Ltd",
                                  number: str = "12345678",
                                  role: Role = Role.SUPPLIER_ADMIN) -> tuple[Organisation, User]:
    """A supplier and one of its people (its admin unless `role` says otherwise)."""
    organisation = await make_supplier(db, clock, name=name, number=number)
    user = await make_user(db, passwords, clock, email=email, organisation=organisation, role=role)
    return organisation, user


async def make_authority_user(db: AsyncSession, passwords: Passwords, clock: Clock, *,
                              email: str = "eve@authority.example", role: Role = Role.EVALUATOR) -> User:
    """A person of the DPS authority: an evaluator unless `role` says otherwise (`Role.AUTHORITY_ADMIN`)."""
    return await make_user(db, passwords, clock, email=email, organisation=await authority(db), role=role)


async def make_api_consumer(db: AsyncSession, passwords: Passwords, clock: Clock, *, email: str | None = None,
                            organisation_name: str = "Open Health Data Lab",
                            purpose: str = "Research into what the NHS buys", email_verified: bool = True) -> User:
    """A person who registered to get API keys: an API consumer organisation of their own, with its purpose."""
    user = await make_user(db, passwords, clock, email=email, email_verified=email_verified)
    await become_api_consumer(db, user.id or 0, organisation_name=organisation_name, purpose=purpose, now=clock.now())
    return user


async def make_fund_manager(db: AsyncSession, passwords: Passwords, clock: Clock, *, ods: str = "QMF",
                            email: str = "finn@icb.example.nhs.uk") -> User:
    """The fund manager of one ICB."""
    return await make_user(db, passwords, clock, email=email, organisation=await icb(db, ods=ods),
                           role=Role.FUND_MANAGER)


async def signed_in(db: AsyncSession, user: User) -> SignedInUser:
    """The user as a service sees the person making a request (what a controller passes on)."""
    person = await load_signed_in_user(db, user.id or 0)
    await db.commit()
    assert person is not None, f"user {user.id} cannot sign in"
    return person


# --- admissions -------------------------------------------------------------------------------------------------

async def make_admission(db: AsyncSession, clock: Clock, *, organisation: Organisation, category_id: int,
                         created_by: User, state: str = "active",
                         answers: dict[str, Any] | None = None) -> Admission:
    """The supplier admitted to the category now (an admitted application behind it, holding `answers`: section key ->
    {"values", "answers", "complete"}); `state="suspended"` for a suspended admission."""
    now = clock.now()
    application = Application(organisation_id=organisation.id, category_id=category_id, state="admitted",
                              answers=answers or {},
                              created_by_user_id=created_by.id, created_at=now, updated_at=now, submitted_at=now,
                              decided_at=now)
    db.add(application)
    await db.flush()
    admission = Admission(organisation_id=organisation.id, category_id=category_id, application_id=application.id,
                          state=state, admitted_at=now, state_changed_at=now)
    db.add(admission)
    await db.commit()
    return admission


async def make_admitted_supplier(db: AsyncSession, passwords: Passwords, clock: Clock, *,
                                 email: str = "ann@acme.example", name: str = "Acme Health Ltd",
                                 number: str = "12345678",
                                 categories: tuple[str, ...] = ("wearables-home-diagnostics",)
                                 ) -> tuple[Organisation, User]:
    """A supplier with its admin, admitted (active) to each category named by slug."""
    organisation, user = await make_supplier_with_user(db, passwords, clock, email=email, name=name, number=number)
    for slug in categories:
        await make_admission(db, clock, organisation=organisation, category_id=await category_id(db, slug),
                             created_by=user)
    return organisation, user


# --- competitions -----------------------------------------------------------------------------------------------

# One category of each regime's agreement (reference data).
CATEGORY_OF_REGIME = {"pcr2015_dps": "virtual-wards", "pa2023_dynamic_market": "digital-therapeutics"}

# A bid's answers to the three questions of `competition_form`, each within its word limit.
BID_ANSWERS = {
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
    """Everyone a competition involves."""

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


async def make_competition_world(db: AsyncSession, passwords: Passwords, clock: Clock, *,
                                 regime: str = "pcr2015_dps") -> World:
    """A trust (RX1) with a buyer and two evaluators; another trust (RX2) with its buyer; three suppliers admitted
    to a category of the regime's agreement (Acme, Brightwell, Carewave), one suspended there (Dormant) and one
    admitted to imaging only (Elsewhere)."""
    category = await scalar(db, sa.select(Category).join(Agreement).where(
        Category.slug == CATEGORY_OF_REGIME[regime], Agreement.regime == regime))
    imaging = await category_id(db, "imaging")
    trust = await make_trust(db, clock, name="St Elsewhere NHS Foundation Trust", ods="RX1")
    buyer = await make_user(db, passwords, clock, email="bea@trust.example.nhs.uk", organisation=trust,
                            role=Role.BUYER)
    evaluators = [await make_user(db, passwords, clock, email=f"{name}@trust.example.nhs.uk", organisation=trust,
                                  role=Role.EVALUATOR) for name in ("eva", "evan")]
    other_trust = await make_trust(db, clock, name="Other Hospitals NHS Trust", ods="RX2")
    other_buyer = await make_user(db, passwords, clock, email="olly@other.example.nhs.uk", organisation=other_trust,
                                  role=Role.BUYER)
    parties = []
    for index, name in enumerate(["Acme Health Ltd", "Brightwell Medical Ltd", "Carewave Digital Ltd",
                                  "Dormant Devices Ltd", "Elsewhere Imaging Ltd"], start=1):
        parties.append(Party(*await make_supplier_with_user(
            db, passwords, clock, email=f"bids@{name.split()[0].lower()}.example", name=name,
            number=f"1200000{index}")))
    for party in parties[:3]:
        await make_admission(db, clock, organisation=party.organisation, category_id=category.id,
                             created_by=party.user)
    await make_admission(db, clock, organisation=parties[3].organisation, category_id=category.id,
                         created_by=parties[3].user, state="suspended")
    await make_admission(db, clock, organisation=parties[4].organisation, category_id=imaging,
                         created_by=parties[4].user)
    return World(regime, category.id, category.name, Party(trust, buyer), evaluators, parties[:3], parties[3],
                 parties[4], Party(other_trust, other_buyer))


def competition_form(world: World, **changes: Any) -> dict[str, Any]:
    """The buyer's competition form as a person fills it in, for the world's category and evaluators: a £250,000
    requirement closing for bids on Fri 16 Jan 2026 12:00, weighted price 40, clinical outcomes 45, net zero 10 and
    social value 5 (three questions). `changes` replace fields by their form names."""
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
        "evaluator_ids": [str(user.id) for user in world.evaluators],
    }
    form.update(changes)
    return form


async def make_draft_competition(db: AsyncSession, clock: Clock, *, world: World, **changes: Any) -> int:
    """A draft competition of the world's buyer, from `competition_form(world, **changes)` through the form parser
    and the competition service (quicker than the pages, the same rules). Returns its id."""
    from dps.competitions.forms import parse_competition_form
    from dps.competitions.services import drafting

    form = competition_form(world, **changes)
    evaluator_ids = form.pop("evaluator_ids")
    parsed = parse_competition_form(form, evaluator_ids, world.buyer.organisation.id)
    assert parsed.data is not None, parsed.errors
    competition = await drafting.create_competition(db, await signed_in(db, world.buyer.user), parsed.data,
                                                    clock.now())
    return competition.id or 0


async def make_published_competition(db: AsyncSession, clock: Clock, *, world: World, **changes: Any) -> int:
    """A competition as `make_draft_competition` makes it, then published: the active admitted suppliers are
    invited (and emailed, through the outbox). Returns its id."""
    from dps.competitions.services import drafting

    competition_id = await make_draft_competition(db, clock, world=world, **changes)
    await drafting.publish(db, await signed_in(db, world.buyer.user), competition_id, clock.now())
    return competition_id


async def make_bid(db: AsyncSession, clock: Clock, *, party: Party, competition_id: int, price_pence: int,
                   vat_pence: int = 0, answers: dict[str, str] | None = None) -> int:
    """A submitted bid of the party (an invited supplier) with `BID_ANSWERS` unless `answers` says otherwise.
    Returns its id."""
    from dps.competitions.services import bidding

    saved = await bidding.save_bid(db, await signed_in(db, party.user), competition_id,
                                    answers=answers or BID_ANSWERS, price_pence=price_pence, vat_pence=vat_pence,
                                    submit=True, now=clock.now())
    assert not saved.errors, saved.errors
    return saved.bid.id


# --- funds ------------------------------------------------------------------------------------------------------

async def make_fund(db: AsyncSession, clock: Clock, *, name: str = "Test Fund", description: str = "A fund for tests",
                    eligible_category_ids: frozenset[int] = frozenset(),
                    eligible_buyer_types: frozenset[str] = frozenset(), match_funding_bps: int = 0,
                    per_award_cap_pence: int | None = None, lapses_at_year_end: bool = True,
                    national: bool = False) -> Fund:
    """A fund owned by the DPS authority, with these rules (the defaults: anyone, anything, no match funding, no
    cap, lapsing at the end of the financial year, each ICB's money for its own ICB and trusts only)."""
    rules = FundRules(name, eligible_category_ids=eligible_category_ids, eligible_buyer_types=eligible_buyer_types,
                      match_funding_bps=match_funding_bps, per_award_cap_pence=per_award_cap_pence,
                      lapses_at_year_end=lapses_at_year_end, national=national)
    fund = await funds.define_fund(db, name=name, description=description,
                                   owner_organisation_id=(await authority(db)).id, rules=rules, actor=ACTOR,
                                   now=clock.now())
    await db.commit()
    return fund


async def make_allocation(db: AsyncSession, clock: Clock, *, fund: Fund | int, ods: str = "QMF",
                          pounds: int = 100_000, budget: str = "revenue", year: str = "2025/26") -> int:
    """An allocation of the fund to the organisation with ODS code `ods` (an ICB, or the service refuses it).
    Returns its id."""
    recipient = await organisation_by_ods(db, ods)
    assert recipient is not None, f"no organisation with ODS code {ods}"
    fund_id = fund if isinstance(fund, int) else sa.inspect(fund).identity[0]  # no reload, even once expired
    allocation = await funds.allocate(db, fund_id=fund_id, financial_year=year, icb_organisation_id=recipient.id,
                                      budget_type=budget, pence=pounds * POUND, actor=ACTOR, now=clock.now())
    await db.commit()
    return allocation.id or 0

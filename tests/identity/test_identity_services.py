"""Identity services: bad input gets a clear error and writes nothing."""

from __future__ import annotations

import pytest

from dps.audit.models import AuditEvent
from dps.audit.services import Actor
from dps.errors import Conflict, ValidationFailed
from dps.identity.models import Organisation, OrganisationKind, Role, User
from dps.identity.rules import BuyerType
from dps.identity.services import add_membership, create_organisation, create_user, load_signed_in_user
from tests.factories import make_supplier, make_trust, make_user
from tests.helpers import count_rows

ACTOR = Actor.system("test")


async def test_companies_house_number_is_normalised(db, clock):
    organisation = await make_supplier(db, clock, number=" sc123456 ")
    assert organisation.companies_house_number == "SC123456"
    padded = await make_supplier(db, clock, name="Tiny Ltd", number="1234")
    assert padded.companies_house_number == "00001234"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": OrganisationKind.SUPPLIER, "name": "Acme", "companies_house_number": "ABC"},
         "companies_house_number"),
        ({"kind": OrganisationKind.SUPPLIER, "name": "Acme", "companies_house_number": ""}, "companies_house_number"),
        ({"kind": OrganisationKind.SUPPLIER, "name": " ", "companies_house_number": "12345678"}, "name"),
        ({"kind": OrganisationKind.BUYER, "name": "Trust", "ods_code": "QE1", "buyer_type": BuyerType.TRUST},
         "ods_code"),
        ({"kind": OrganisationKind.BUYER, "name": "ICB", "ods_code": "RJ1", "buyer_type": BuyerType.ICB}, "ods_code"),
        ({"kind": OrganisationKind.BUYER, "name": "Trust", "ods_code": "RJ1"}, "buyer_type"),
    ],
)
async def test_invalid_identifiers_are_refused_and_nothing_is_written(db, clock, kwargs, field):
    organisations, events = await count_rows(db, Organisation), await count_rows(db, AuditEvent)
    with pytest.raises(ValidationFailed) as raised:
        await create_organisation(db, actor=ACTOR, now=clock.now(), **kwargs)
    await db.rollback()
    assert raised.value.field == field
    assert str(raised.value)
    assert (await count_rows(db, Organisation), await count_rows(db, AuditEvent)) == (organisations, events)


async def test_the_same_companies_house_number_cannot_register_twice(db, clock):
    await make_supplier(db, clock, number="00012345")
    with pytest.raises(Conflict, match="already registered"):
        await make_supplier(db, clock, name="Copy Ltd", number="12345")


async def test_the_same_ods_code_cannot_register_twice(db, clock):
    await make_trust(db, clock, ods="RJ1")
    with pytest.raises(Conflict, match="ODS code is already registered"):
        await make_trust(db, clock, name="Other", ods="rj1")


async def test_emails_are_normalised_and_unique(db, passwords, clock):
    user = await make_user(db, passwords, clock, email="  Ann@Acme.Example ")
    assert user.email == "ann@acme.example"
    with pytest.raises(Conflict):
        await create_user(db, passwords, email="ANN@acme.example", full_name="Ann", password="long-enough-pass",
                          actor=ACTOR, now=clock.now())


@pytest.mark.parametrize(("email", "password", "field"), [
    ("not-an-email", "long-enough-pass", "email"),
    ("a@b", "long-enough-pass", "email"),
    ("ann@acme.example", "short", "password"),
])
async def test_bad_user_details_name_the_field(db, passwords, clock, email, password, field):
    with pytest.raises(ValidationFailed) as raised:
        await create_user(db, passwords, email=email, full_name="Ann", password=password, actor=ACTOR, now=clock.now())
    assert raised.value.field == field
    await db.rollback()
    assert await count_rows(db, User) == 0


async def test_passwords_are_stored_as_argon2_hashes(db, passwords, clock):
    user = await make_user(db, passwords, clock, email="ann@acme.example")
    assert user.password_hash.startswith("$argon2id$")
    assert "correct-horse-battery" not in user.password_hash


async def test_roles_must_fit_the_kind_of_organisation(db, passwords, clock):
    supplier = await make_supplier(db, clock)
    user = await make_user(db, passwords, clock, email="ann@acme.example")
    with pytest.raises(ValidationFailed, match="supplier organisation's roles are"):
        await add_membership(db, user=user, organisation=supplier, role=Role.FUND_MANAGER, actor=ACTOR, now=clock.now())


async def test_signed_in_user_knows_roles_per_kind_of_organisation(db, passwords, clock):
    trust = await make_trust(db, clock)
    user = await make_user(db, passwords, clock, email="eve@trust.example", organisation=trust, role=Role.EVALUATOR)
    signed = await load_signed_in_user(db, user.id)
    assert signed.has_role_in(OrganisationKind.BUYER, Role.EVALUATOR)
    assert not signed.has_role_in(OrganisationKind.AUTHORITY, Role.EVALUATOR)

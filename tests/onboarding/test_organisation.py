"""Setting up and changing a supplier organisation: validation with every answer kept, unique Companies House
numbers, the SME outcome with its reason, administrators only for changes, 404 for other organisations."""

from __future__ import annotations

import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.identity.models import Membership, Organisation, OrganisationKind, Role
from tests.factories import make_supplier, make_user
from tests.helpers import count_rows, post_form, scalar, sign_in
from tests.onboarding.test_journey import ORGANISATION_FORM

NEW = "/supplier/organisation/new"


async def supplier_count(db) -> int:
    return int(await scalar(db, sa.select(sa.func.count()).select_from(Organisation)
                            .where(Organisation.kind == OrganisationKind.SUPPLIER)))


async def signed_in_newcomer(client, db, passwords, clock, email="nia@newco.example"):
    user = await make_user(db, passwords, clock, email=email)  # confirmed address, no organisation
    assert (await sign_in(client, email)).status_code == 303
    return user


async def test_an_invalid_companies_house_number_is_refused_and_every_answer_kept(client, db, passwords, clock):
    await signed_in_newcomer(client, db, passwords, clock)
    before = await supplier_count(db)

    response = await post_form(client, NEW, {**ORGANISATION_FORM, "companies_house_number": "XY12345"})

    assert response.status_code == 400
    assert "Enter a Companies House number in the correct format" in response.text
    assert 'href="#companies_house_number"' in response.text
    assert "Continue" in response.text and "Macro" not in response.text  # the form can still be sent
    for typed in ("Brightwater Diagnostics Ltd", "XY12345", "£1,250,000", "800000.50", 'value="42"', "Leith"):
        assert typed in response.text
    assert (await client.get(f"{NEW}/check")).headers["location"] == NEW  # no draft was kept
    assert await supplier_count(db) == before


async def test_a_companies_house_number_already_registered_is_refused(client, db, passwords, clock):
    await make_supplier(db, clock, name="Incumbent Ltd", number="SC123456")
    await db.commit()
    await signed_in_newcomer(client, db, passwords, clock)

    response = await post_form(client, NEW, {**ORGANISATION_FORM, "companies_house_number": "sc123456"})

    assert response.status_code == 400
    assert "An organisation with this Companies House number is already registered" in response.text
    assert await supplier_count(db) == 1


async def test_bad_money_and_headcount_are_refused_with_clear_messages(client, db, passwords, clock):
    await signed_in_newcomer(client, db, passwords, clock)
    response = await post_form(client, NEW, {**ORGANISATION_FORM, "turnover": "1,25,000", "balance_sheet_total": "-5",
                                             "headcount": "about forty"})
    assert response.status_code == 400
    assert "Enter the annual turnover as an amount in pounds, like 1,250,000 or 1250000.50" in response.text
    assert "Balance sheet total must be £0 or more" in response.text
    assert "Enter the number of staff as a whole number" in response.text
    assert 'value="1,25,000"' in response.text and 'value="-5"' in response.text
    assert await supplier_count(db) == 0


async def test_a_large_organisation_is_told_it_is_not_an_sme_and_why(client, db, passwords, clock):
    await signed_in_newcomer(client, db, passwords, clock)
    await post_form(client, NEW, {**ORGANISATION_FORM, "headcount": "300"})
    check = await client.get(f"{NEW}/check")
    assert "Your organisation is not an SME" in check.text
    assert "Not an SME: 300 staff is not fewer than 250" in check.text


async def test_changing_an_answer_from_the_check_page_shows_what_was_entered(client, db, passwords, clock):
    await signed_in_newcomer(client, db, passwords, clock)
    await post_form(client, NEW, ORGANISATION_FORM)
    form = await client.get(NEW)
    assert 'value="Brightwater Diagnostics Ltd"' in form.text and 'value="1,250,000"' in form.text


async def test_creating_without_the_csrf_token_is_refused_and_writes_nothing(client, db, passwords, clock):
    await signed_in_newcomer(client, db, passwords, clock)
    await post_form(client, NEW, ORGANISATION_FORM)
    before = await count_rows(db, AuditEvent)

    response = await client.post(f"{NEW}/check", data={})

    assert response.status_code == 403
    assert await supplier_count(db) == 0
    assert await count_rows(db, AuditEvent) == before


async def test_someone_with_an_organisation_cannot_set_up_another(client, db, passwords, clock):
    organisation = await make_supplier(db, clock)
    await make_user(db, passwords, clock, email="ann@acme.example", organisation=organisation, role=Role.SUPPLIER_USER)
    await sign_in(client, "ann@acme.example")

    assert (await client.get(NEW)).headers["location"] == f"/supplier/organisation/{organisation.id}"
    await post_form(client, NEW, ORGANISATION_FORM, form_page="/supplier")
    assert await supplier_count(db) == 1


async def create_through_the_pages(client, form=ORGANISATION_FORM) -> int:
    assert (await post_form(client, NEW, form)).status_code == 303
    created = await post_form(client, f"{NEW}/check", {}, form_page=f"{NEW}/check")
    assert created.status_code == 303
    return int(created.headers["location"].split("?")[0].rsplit("/", 1)[1])


async def test_an_administrator_changes_the_profile_and_the_change_is_audited(client, db, passwords, clock):
    await signed_in_newcomer(client, db, passwords, clock)
    organisation_id = await create_through_the_pages(client)
    edit = f"/supplier/organisation/{organisation_id}/edit"
    form = await client.get(edit)
    assert 'value="SC123456"' in form.text and 'value="800,000.50"' in form.text  # shown as entered, in pounds

    bad = await post_form(client, edit, {**ORGANISATION_FORM, "turnover": "lots"})
    assert bad.status_code == 400 and 'value="lots"' in bad.text

    saved = await post_form(client, edit, {**ORGANISATION_FORM, "headcount": "260", "turnover": "50,000,000"})
    assert saved.status_code == 303
    page = await client.get(saved.headers["location"])
    assert "Your organisation is not an SME" in page.text and "260 staff is not fewer than 250" in page.text
    event = await scalar(db, sa.select(AuditEvent).where(AuditEvent.action == "organisation.profile_updated")
                         .order_by(AuditEvent.id.desc()).limit(1))
    assert event.entity_id == str(organisation_id)
    assert (event.before["headcount"], event.before["turnover_pence"], event.before["sme"]) == (42, 125_000_000, True)
    assert (event.after["headcount"], event.after["turnover_pence"], event.after["sme"]) == (260, 5_000_000_000, False)


async def test_only_administrators_change_the_profile_and_outsiders_get_404(client, db, passwords, clock):
    organisation = await make_supplier(db, clock, number="01234567")
    other = await make_supplier(db, clock, name="Other Ltd", number="07654321")
    await make_user(db, passwords, clock, email="user@acme.example", organisation=organisation, role=Role.SUPPLIER_USER)
    await make_user(db, passwords, clock, email="admin@other.example", organisation=other, role=Role.SUPPLIER_ADMIN)
    edit = f"/supplier/organisation/{organisation.id}/edit"

    await sign_in(client, "user@acme.example")
    assert (await client.get(f"/supplier/organisation/{organisation.id}")).status_code == 200
    assert (await client.get(edit)).status_code == 403
    refused = await post_form(client, edit, {**ORGANISATION_FORM, "legal_name": "Hijacked"},
                              form_page=f"/supplier/organisation/{organisation.id}")
    assert refused.status_code == 403

    client.cookies.clear()
    await sign_in(client, "admin@other.example")
    for path in (f"/supplier/organisation/{organisation.id}", edit):
        assert (await client.get(path)).status_code == 404
    outsider = await post_form(client, edit, {**ORGANISATION_FORM, "legal_name": "Hijacked"}, form_page="/supplier")
    assert outsider.status_code == 404
    assert await scalar(db, sa.select(Organisation.name).where(Organisation.id == organisation.id)) == "Acme Health Ltd"
    assert await scalar(db, sa.select(sa.func.count()).select_from(Membership)
                        .where(Membership.organisation_id == organisation.id)) == 1

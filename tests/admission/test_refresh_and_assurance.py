"""A6 declaration refreshes and the assurance watch, driven by the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from dps.admission.models import Admission, RefreshResponse
from dps.admission.refresh import run_daily_jobs
from dps.db import make_engine, make_sessionmaker
from dps.exclusion.models import DebarmentEntry
from dps.exclusion.rules import MandatoryGround
from dps.identity.models import Organisation, Role
from dps.outbox.models import OutboxMessage
from tests.admission.support import answer_everything, decide, evaluate_all, start_application, submit
from tests.factories import category_id, make_authority_user, make_supplier_with_user
from tests.helpers import post_form, scalar, sign_in


async def admitted_by_applying(client, db, passwords, clock, email="ann@acme.example", name="Acme Health Ltd",
                               number="12345678"):
    """A supplier admitted to virtual wards through the pages (its answers hold the assurance expiry dates)."""
    organisation, supplier = await make_supplier_with_user(db, passwords, clock, email=email, name=name, number=number)
    await sign_in(client, supplier.email)
    application_id = await start_application(client, await category_id(db, "virtual-wards"))
    await answer_everything(client, application_id)
    await submit(client, application_id)
    client.cookies.clear()
    eve = await make_authority_user(db, passwords, clock, email=f"eve-{number}@authority.example")
    await sign_in(client, eve.email)
    await evaluate_all(client, application_id)
    await decide(client, application_id, "admit")
    client.cookies.clear()
    return organisation, supplier


NO_GROUNDS = {f"ground-{ground.value}": "no" for ground in MandatoryGround}


async def jobs(settings, clock):
    engine = make_engine(settings.database_url)
    try:
        return await run_daily_jobs(make_sessionmaker(engine), clock.now())
    finally:
        await engine.dispose()


async def emails_to(db, address):
    rows = (await db.scalars(sa.select(OutboxMessage).where(OutboxMessage.topic == "email"))).all()
    await db.commit()
    return [row.payload["subject"] for row in rows if row.payload["to"] == address]


async def test_refresh_request_reminder_answer_and_overdue(client, db, passwords, clock, settings):
    _, ann = await admitted_by_applying(client, db, passwords, clock)
    _, bob = await admitted_by_applying(client, db, passwords, clock, email="bob@beta.example", name="Beta Ltd",
                                     number="22222222")
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, admin.email)
    virtual_wards = await category_id(db, "virtual-wards")
    response = await post_form(client, "/authority/refresh", {"category_id": str(virtual_wards),
                                                              "message": "Annual check"})
    assert response.status_code == 303
    request_page = response.headers["location"]

    # Mon 5 Jan 2026 + 5 working days = Mon 12 Jan 2026, end of day.
    responses = (await db.scalars(sa.select(RefreshResponse))).all()
    await db.commit()
    assert len(responses) == 2
    assert {r.due_at.isoformat() for r in responses} == {"2026-01-12T23:59:59+00:00"}
    assert "Please confirm your declaration for Virtual wards and remote monitoring" in await emails_to(db, ann.email)

    # Ann answers in time.
    client.cookies.clear()
    await sign_in(client, ann.email)
    home = await client.get("/supplier")
    assert "Declarations to confirm" in home.text
    ann_response_id = await scalar(db, sa.select(RefreshResponse.id).join(
        Organisation, Organisation.id == RefreshResponse.organisation_id).where(Organisation.name == "Acme Health Ltd"))
    empty = await post_form(client, f"/supplier/refresh/{ann_response_id}", {})
    assert empty.status_code == 400
    assert "Confirm your declaration still stands" in empty.text
    answer = {"confirmed": "yes", **NO_GROUNDS}
    assert (await post_form(client, f"/supplier/refresh/{ann_response_id}", answer)).status_code == 303
    twice = await post_form(client, f"/supplier/refresh/{ann_response_id}", answer, form_page="/supplier")
    assert twice.status_code == 409

    # Bob cannot answer for Ann.
    client.cookies.clear()
    await sign_in(client, bob.email)
    assert (await client.get(f"/supplier/refresh/{ann_response_id}")).status_code == 404

    # On Bob's last working day he is reminded, once.
    clock.set(datetime(2026, 1, 12, 9, 0, tzinfo=UTC))
    assert (await jobs(settings, clock))["refresh_reminders"] == 1
    assert (await jobs(settings, clock))["refresh_reminders"] == 0
    assert "Reminder: confirm your declaration for Virtual wards and remote monitoring" in await emails_to(db,
                                                                                                           bob.email)
    assert not any(s.startswith("Reminder") for s in await emails_to(db, ann.email))

    # After the deadline he shows as overdue to the authority.
    clock.set(datetime(2026, 1, 13, 9, 0, tzinfo=UTC))
    client.cookies.clear()
    await sign_in(client, admin.email)
    page = await client.get(request_page)
    assert "Overdue" in page.text and "Answered" in page.text


async def test_assurance_is_warned_30_days_ahead_once_and_flagged_when_expired(client, db, passwords, clock, settings):
    # The Cyber Essentials certificate in the answers expires on 15 January 2026.
    clock.set(datetime(2025, 12, 1, 9, 0, tzinfo=UTC))
    organisation, ann = await admitted_by_applying(client, db, passwords, clock)
    assert (await jobs(settings, clock))["assurance_warnings"] == 0  # 45 days ahead: too early

    clock.set(datetime(2025, 12, 16, 9, 0, tzinfo=UTC))  # 30 days ahead
    assert (await jobs(settings, clock))["assurance_warnings"] == 1
    clock.advance(timedelta(days=1))
    assert (await jobs(settings, clock))["assurance_warnings"] == 0
    assert "Cyber Essentials certificate expires on 15 January 2026" in await emails_to(db, ann.email)

    clock.set(datetime(2026, 1, 20, 9, 0, tzinfo=UTC))
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, admin.email)
    record = await client.get(f"/authority/suppliers/{organisation.id}")
    assert record.status_code == 200
    assert "Cyber Essentials certificate: 15 January 2026" in " ".join(record.text.split())
    assert "Expired" in record.text


async def test_a6_a8_each_mandatory_ground_is_a_yes_or_no_and_a_yes_removes_the_supplier(client, db, passwords, clock):
    organisation, ann = await admitted_by_applying(client, db, passwords, clock)
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, admin.email)
    await post_form(client, "/authority/refresh", {"category_id": str(await category_id(db, "virtual-wards")),
                                                   "message": "Check"})
    response_id = await scalar(db, sa.select(RefreshResponse.id))
    client.cookies.clear()
    await sign_in(client, ann.email)
    form = (await client.get(f"/supplier/refresh/{response_id}")).text
    assert 'name="ground-fraud"' in form and 'value="yes"' in form

    unanswered = await post_form(client, f"/supplier/refresh/{response_id}", {"confirmed": "yes"})
    assert unanswered.status_code == 400
    assert "Select yes if your organisation or a person in it has been convicted of bribery" in unanswered.text
    assert await scalar(db, sa.select(Admission.state)) == "active"

    declared = {"confirmed": "yes", **NO_GROUNDS, "ground-fraud": "yes"}
    assert (await post_form(client, f"/supplier/refresh/{response_id}", declared)).status_code == 303
    assert await scalar(db, sa.select(Admission.state)) == "removed"
    entry = await scalar(db, sa.select(DebarmentEntry))
    assert entry.organisation_id == organisation.id and entry.grounds == ["fraud"] and entry.source == "declaration"

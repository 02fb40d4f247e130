"""The whole admission path through the HTTP layer: apply -> submit -> evaluate -> admit, and reject -> re-apply."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa

from dps.admission.models import Admission, Application
from tests.admission.support import answer_everything, decide, evaluate_all, start_application, submit
from tests.factories import category_id, make_authority_user, make_supplier_with_user
from tests.helpers import scalar, sign_in


async def test_apply_submit_evaluate_admit(client, db, passwords, clock, smtp_server, drain_outbox, settings):
    organisation, supplier = await make_supplier_with_user(db, passwords, clock)
    eve = await make_authority_user(db, passwords, clock)
    virtual_wards = await category_id(db, "virtual-wards")

    await sign_in(client, supplier.email)
    application_id = await start_application(client, virtual_wards)
    await answer_everything(client, application_id)
    check = await client.get(f"/supplier/applications/{application_id}/check")
    assert "Now submit your application" in check.text
    assert "£2,500,000.00" in check.text  # money typed as pounds, kept as pence, shown as pounds
    response = await submit(client, application_id)
    assert response.status_code == 303

    # Mon 5 Jan 2026 09:00: 10 working days later is Mon 19 Jan 2026, end of day in London.
    page = await client.get(f"/supplier/applications/{application_id}")
    assert "11:59pm on 19 January 2026" in page.text
    await drain_outbox()
    told = {m["To"]: (m["Subject"], m.get_content()) for m in smtp_server.messages}
    assert set(told) == {supplier.email, eve.email}
    subject, body = told[supplier.email]
    assert subject == "Application received: Virtual wards and remote monitoring"
    assert f"{settings.base_url}/supplier/applications/{application_id}" in body  # a working, absolute link
    assert (await client.get(f"/supplier/applications/{application_id}")).status_code == 200
    subject, body = told[eve.email]  # the authority is told an application arrived
    assert subject == "New application: Acme Health Ltd, Virtual wards and remote monitoring"
    assert f"{settings.base_url}/authority/applications/{application_id}" in body

    client.cookies.clear()
    await sign_in(client, eve.email)
    queue = await client.get("/authority/applications")
    assert "Acme Health Ltd" in queue.text and "Virtual wards and remote monitoring" in queue.text
    await evaluate_all(client, application_id)
    assert (await decide(client, application_id, "admit")).status_code == 303
    decided = await client.get(f"/authority/applications/{application_id}")
    decision = re.search(r"Decision\s*</dt>\s*<dd[^>]*>(.*?)</dd>", decided.text, re.S)
    assert decision, decided.text
    assert "Admitted to the category" in decision.group(1) and "5 January 2026" in decision.group(1)
    assert f"by {eve.full_name}" in decision.group(1)

    admission = await scalar(db, sa.select(Admission).where(Admission.organisation_id == organisation.id))
    assert (admission.state, admission.category_id) == ("active", virtual_wards)
    await drain_outbox()
    assert smtp_server.messages[-1]["Subject"] == "Admitted: Virtual wards and remote monitoring"
    assert f"{settings.base_url}/supplier/applications/{application_id}" in smtp_server.messages[-1].get_content()
    assert "Admitted" in (await client.get("/authority/suppliers")).text

    client.cookies.clear()
    await sign_in(client, supplier.email)
    home = await client.get("/supplier")
    assert "Categories you are admitted to" in home.text and "Virtual wards and remote monitoring" in home.text
    again = await client.post("/supplier/applications", data={"category_id": str(virtual_wards),
                                                              "_csrf_token": client.cookies.get("csrftoken")})
    assert again.status_code == 409
    assert "already admitted" in again.text


async def test_reject_with_reasons_then_apply_again(client, db, passwords, clock, smtp_server, drain_outbox):
    _, supplier = await make_supplier_with_user(db, passwords, clock)
    eve = await make_authority_user(db, passwords, clock)
    ai = await category_id(db, "ai-diagnostics")
    await sign_in(client, supplier.email)
    first = await start_application(client, ai)
    await answer_everything(client, first)
    await submit(client, first)

    client.cookies.clear()
    await sign_in(client, eve.email)
    no_reason = await decide(client, first, "reject")
    assert no_reason.status_code == 400
    assert "Give the reasons for rejecting the application" in no_reason.text
    assert (await decide(client, first, "reject", "Clinical safety case not evidenced")).status_code == 303

    await drain_outbox()
    outcome = smtp_server.messages[-1]
    assert outcome["Subject"] == "Application outcome: AI diagnostics and decision support"
    assert "Clinical safety case not evidenced" in outcome.get_content()

    client.cookies.clear()
    await sign_in(client, supplier.email)
    page = await client.get(f"/supplier/applications/{first}")
    assert "Not admitted" in page.text and "Clinical safety case not evidenced" in page.text
    second = await start_application(client, ai)
    assert second != first
    states = (await db.scalars(sa.select(Application.state).order_by(Application.id))).all()
    await db.commit()
    assert states == ["rejected", "draft"]


async def test_the_legal_clock_skips_christmas_and_new_year(client, db, passwords, clock):
    # RULES.md worked example: received Fri 19 Dec 2025 -> due 7 Jan 2026 (10 working days).
    clock.set(datetime(2025, 12, 19, 10, 0, tzinfo=UTC))
    _, supplier = await make_supplier_with_user(db, passwords, clock)
    await sign_in(client, supplier.email)
    application_id = await start_application(client, await category_id(db, "virtual-wards"))
    await answer_everything(client, application_id)
    await submit(client, application_id)
    page = await client.get(f"/supplier/applications/{application_id}")
    assert "11:59pm on 7 January 2026" in page.text

"""Bad input, illegal moves and access rules around admission: each gets a clear answer and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from dps.admission.models import Admission, Application
from dps.audit.models import AuditEvent
from dps.audit.services import Actor
from dps.identity.models import Role
from dps.identity.services import add_membership
from tests.admission.support import VALID_ANSWERS, answer_everything, decide, evaluate_all, start_application, submit
from tests.factories import category_id, make_authority_user, make_supplier_with_user
from tests.helpers import count_rows, post_form, scalar, sign_in


async def submitted_application(client, db, passwords, clock, slug="virtual-wards"):
    organisation, supplier = await make_supplier_with_user(db, passwords, clock)
    await sign_in(client, supplier.email)
    application_id = await start_application(client, await category_id(db, slug))
    await answer_everything(client, application_id)
    await submit(client, application_id)
    client.cookies.clear()
    return organisation, supplier, application_id


async def test_a_section_with_errors_keeps_what_was_typed(client, db, passwords, clock):
    _, supplier = await make_supplier_with_user(db, passwords, clock)
    await sign_in(client, supplier.email)
    application_id = await start_application(client, await category_id(db, "virtual-wards"))
    path = f"/supplier/applications/{application_id}/sections/insurance"

    response = await post_form(client, path, {"employers_liability": "five million", "public_liability": "1000",
                                              "insurance_expiry-day": "31", "insurance_expiry-month": "2",
                                              "insurance_expiry-year": "2027"})

    assert response.status_code == 400
    assert "There is a problem" in response.text
    assert "liability cover as an amount in pounds, like 1,250,000 or 1250000.50" in response.text
    assert "Date the earliest of these policies expires must be a real date" in response.text  # 31 February
    assert "Enter the professional indemnity cover" in response.text
    assert 'value="five million"' in response.text
    # Saved as an incomplete draft: coming back later shows it again.
    again = await client.get(path)
    assert 'value="five million"' in again.text
    task_list = await client.get(f"/supplier/applications/{application_id}")
    assert "Incomplete" in task_list.text


async def test_submitting_an_incomplete_application_is_refused(client, db, passwords, clock):
    _, supplier = await make_supplier_with_user(db, passwords, clock)
    await sign_in(client, supplier.email)
    application_id = await start_application(client, await category_id(db, "virtual-wards"))
    await post_form(client, f"/supplier/applications/{application_id}/sections/nice_esf", VALID_ANSWERS["nice_esf"])

    response = await submit(client, application_id)

    assert response.status_code == 400
    assert "Complete every section before you submit" in response.text
    assert await scalar(db, sa.select(Application.state)) == "draft"


async def test_a_supplier_cannot_see_or_touch_another_organisations_application(client, db, passwords, clock):
    _, _, application_id = await submitted_application(client, db, passwords, clock)
    _, other = await make_supplier_with_user(db, passwords, clock, email="bob@rival.example", name="Rival Ltd",
                                             number="87654321")
    await sign_in(client, other.email)
    events = await count_rows(db, AuditEvent)

    for path in (f"/supplier/applications/{application_id}", f"/supplier/applications/{application_id}/check",
                 f"/supplier/applications/{application_id}/sections/insurance"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "Acme" not in response.text
    withdraw = await post_form(client, f"/supplier/applications/{application_id}/withdraw", {}, form_page="/supplier")
    assert withdraw.status_code == 404
    assert await count_rows(db, AuditEvent) == events
    assert await scalar(db, sa.select(Application.state)) == "submitted"


async def test_an_evaluator_cannot_judge_their_own_organisation(client, db, passwords, clock):
    organisation, _, application_id = await submitted_application(client, db, passwords, clock)
    eve = await make_authority_user(db, passwords, clock)
    await add_membership(db, user=eve, organisation=organisation, role=Role.SUPPLIER_USER, actor=Actor.system("t"),
                         now=clock.now())
    await db.commit()
    await sign_in(client, eve.email)

    page = await client.get(f"/authority/applications/{application_id}")
    assert "You cannot evaluate this application" in page.text
    response = await post_form(client, f"/authority/applications/{application_id}/sections/dspt",
                               {"outcome": "pass"}, form_page=f"/authority/applications/{application_id}")
    assert response.status_code == 403
    decision = await decide(client, application_id, "admit")
    assert decision.status_code == 403
    assert await scalar(db, sa.select(Application.state)) == "submitted"


async def test_suppliers_and_buyers_cannot_reach_the_evaluation_pages(client, db, passwords, clock):
    _, supplier, application_id = await submitted_application(client, db, passwords, clock)
    await sign_in(client, supplier.email)
    assert (await client.get("/authority/applications")).status_code == 403
    assert (await client.get(f"/authority/applications/{application_id}")).status_code == 403


async def test_admission_needs_every_section_passed(client, db, passwords, clock):
    _, _, application_id = await submitted_application(client, db, passwords, clock)
    eve = await make_authority_user(db, passwords, clock)
    await sign_in(client, eve.email)

    unevaluated = await decide(client, application_id, "admit")
    assert unevaluated.status_code == 409
    assert "Evaluate every section before admitting" in unevaluated.text
    await evaluate_all(client, application_id)
    await post_form(client, f"/authority/applications/{application_id}/sections/dspt",
                    {"outcome": "fail", "comment": "Status not met"},
                    form_page=f"/authority/applications/{application_id}")
    failed = await decide(client, application_id, "admit")
    assert failed.status_code == 409
    assert "failed section cannot be admitted: Data Security and Protection Toolkit" in failed.text
    assert await count_rows(db, Admission) == 0
    assert await scalar(db, sa.select(Application.state)) == "under_evaluation"


async def test_a_failed_section_needs_a_reason(client, db, passwords, clock):
    _, _, application_id = await submitted_application(client, db, passwords, clock)
    await sign_in(client, (await make_authority_user(db, passwords, clock)).email)
    response = await post_form(client, f"/authority/applications/{application_id}/sections/dspt",
                               {"outcome": "fail", "comment": " "},
                               form_page=f"/authority/applications/{application_id}")
    assert response.status_code == 400
    assert "Give a reason when a section fails" in response.text


async def test_mandatory_exclusion_grounds_block_admission(client, db, passwords, clock):
    _, supplier = await make_supplier_with_user(db, passwords, clock)
    await sign_in(client, supplier.email)
    application_id = await start_application(client, await category_id(db, "virtual-wards"))
    await answer_everything(client, application_id)
    await post_form(client, f"/supplier/applications/{application_id}/sections/mandatory_exclusion",
                    {"grounds_apply": "yes", "details": "Director convicted of fraud in 2023"})
    await submit(client, application_id)
    client.cookies.clear()
    await sign_in(client, (await make_authority_user(db, passwords, clock)).email)
    await evaluate_all(client, application_id)
    response = await decide(client, application_id, "admit")
    assert response.status_code == 409
    assert "Mandatory exclusion grounds apply" in response.text


async def test_extending_the_clock_records_why_and_happens_once(client, db, passwords, clock):
    _, _, application_id = await submitted_application(client, db, passwords, clock)
    await sign_in(client, (await make_authority_user(db, passwords, clock)).email)
    path = f"/authority/applications/{application_id}/extend"
    page = f"/authority/applications/{application_id}"

    missing = await post_form(client, path, {"reason": ""}, form_page=page)
    assert missing.status_code == 400
    assert (await post_form(client, path, {"reason": "Clinical safety case needs specialist review"},
                            form_page=page)).status_code == 303
    application = await scalar(db, sa.select(Application))
    assert application.extension_reason == "Clinical safety case needs specialist review"
    # Mon 5 Jan 2026 + 15 working days = Mon 26 Jan 2026, end of day in London (UTC in winter).
    assert application.due_at.isoformat() == "2026-01-26T23:59:59+00:00"
    twice = await post_form(client, path, {"reason": "again"}, form_page=page)
    assert twice.status_code == 409
    assert "already been extended" in twice.text


async def test_a4_the_clock_cannot_be_extended_once_the_10_working_days_have_run_out(client, db, passwords, clock):
    _, _, application_id = await submitted_application(client, db, passwords, clock)  # Mon 5 Jan 2026, 09:00
    await sign_in(client, (await make_authority_user(db, passwords, clock)).email)
    path = f"/authority/applications/{application_id}/extend"
    page = f"/authority/applications/{application_id}"
    # Mon 5 Jan 2026 + 10 working days = Mon 19 Jan 2026: the clock runs out at the end of that day.
    clock.set(datetime(2026, 1, 20, 0, 0, tzinfo=UTC))

    shown = await client.get(page)
    assert "ran out at 11:59pm on 19 January 2026" in shown.text
    assert f'action="{path}"' not in shown.text  # no extension form to fill in for nothing
    late = await post_form(client, path, {"reason": "Clinical safety case needs specialist review"}, form_page=page)

    assert late.status_code == 409
    assert ("The 10 working days to decide this application ran out at 11:59pm on Monday 19 January 2026: the "
            "clock can only be extended to 15 working days before then. Decide the application now.") in late.text
    application = await scalar(db, sa.select(Application))
    assert application.extended_at is None and application.extension_reason is None
    assert application.due_at.isoformat() == "2026-01-19T23:59:59+00:00"
    assert await scalar(db, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "application.clock_extended")) == 0


async def test_a4_the_clock_can_still_be_extended_in_the_last_second_of_the_tenth_working_day(client, db, passwords,
                                                                                             clock):
    _, _, application_id = await submitted_application(client, db, passwords, clock)
    await sign_in(client, (await make_authority_user(db, passwords, clock)).email)
    clock.set(datetime(2026, 1, 19, 23, 59, 59, tzinfo=UTC))
    page = f"/authority/applications/{application_id}"
    extended = await post_form(client, f"{page}/extend", {"reason": "Specialist clinical review"}, form_page=page)
    assert extended.status_code == 303
    application = await scalar(db, sa.select(Application))
    assert application.due_at.isoformat() == "2026-01-26T23:59:59+00:00"


async def test_a_decided_application_cannot_be_withdrawn(client, db, passwords, clock):
    _, supplier, application_id = await submitted_application(client, db, passwords, clock)
    await sign_in(client, (await make_authority_user(db, passwords, clock)).email)
    await evaluate_all(client, application_id)
    await decide(client, application_id, "admit")
    client.cookies.clear()
    await sign_in(client, supplier.email)
    response = await post_form(client, f"/supplier/applications/{application_id}/withdraw", {},
                               form_page="/supplier")
    assert response.status_code == 409
    assert "An application that is admitted cannot be withdrawn" in response.text


async def test_suspend_reinstate_remove_by_an_authority_admin_only(client, db, passwords, clock):
    organisation, supplier, application_id = await submitted_application(client, db, passwords, clock)
    eve = await make_authority_user(db, passwords, clock)
    await sign_in(client, eve.email)
    await evaluate_all(client, application_id)
    await decide(client, application_id, "admit")
    admission_id = await scalar(db, sa.select(Admission.id))

    refused = await post_form(client, f"/authority/admissions/{admission_id}/suspend", {"reason": "x"},
                              form_page="/authority/suppliers")
    assert refused.status_code == 403  # evaluators evaluate; only admins suspend

    client.cookies.clear()
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, admin.email)
    no_reason = await post_form(client, f"/authority/admissions/{admission_id}/suspend", {"reason": ""},
                                form_page="/authority/suppliers")
    assert no_reason.status_code == 400
    for event, state in (("suspend", "suspended"), ("reinstate", "active"), ("remove", "removed")):
        response = await post_form(client, f"/authority/admissions/{admission_id}/{event}",
                                   {"reason": f"{event} for the test"}, form_page="/authority/suppliers")
        assert response.status_code == 303
        assert await scalar(db, sa.select(Admission.state)) == state
    again = await post_form(client, f"/authority/admissions/{admission_id}/reinstate", {"reason": "no"},
                            form_page="/authority/suppliers")
    assert again.status_code == 409
    assert "A membership that is removed cannot be reinstated" in again.text
    actions = (await db.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_type == "admission")
                                .order_by(AuditEvent.id))).all()
    await db.commit()
    assert actions == ["admission.admitted", "admission.suspend", "admission.reinstate", "admission.remove"]

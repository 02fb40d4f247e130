"""RULES.md section 4 with A2: evidence that has already expired (by the clock's London date) is refused when it is
entered in an application, and an application whose evidence expired since is neither submitted nor admitted."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from dps.admission.models import Application
from tests.admission.support import VALID_ANSWERS, answer_everything, decide, evaluate_all, start_application, submit
from tests.factories import category_id, make_authority_user, make_supplier_with_user
from tests.helpers import post_form, scalar, sign_in

# The test clock reads 5 January 2026.


async def _draft(client, db, passwords, clock):
    _, supplier = await make_supplier_with_user(db, passwords, clock)
    await sign_in(client, supplier.email)
    return await start_application(client, await category_id(db, "virtual-wards"))


async def test_a2_an_expired_cyber_essentials_certificate_is_refused_when_entered(client, db, passwords, clock):
    application_id = await _draft(client, db, passwords, clock)
    path = f"/supplier/applications/{application_id}/sections/cyber_essentials"

    response = await post_form(client, path, {**VALID_ANSWERS["cyber_essentials"], "expiry-day": "3",
                                              "expiry-month": "1", "expiry-year": "2026"})

    assert response.status_code == 400
    assert ("The Cyber Essentials certificate expired on 3 January 2026: enter the date of a current certificate"
            in response.text)
    assert 'value="3"' in response.text  # what was typed is kept
    assert "Incomplete" in (await client.get(f"/supplier/applications/{application_id}")).text


async def test_a2_an_expired_medical_device_certificate_or_dspt_year_is_refused_when_entered(client, db, passwords,
                                                                                            clock):
    application_id = await _draft(client, db, passwords, clock)

    device = await post_form(client, f"/supplier/applications/{application_id}/sections/medical_device",
                             {**VALID_ANSWERS["medical_device"], "certificate_expiry-day": "1",
                              "certificate_expiry-month": "12", "certificate_expiry-year": "2025"})
    dspt = await post_form(client, f"/supplier/applications/{application_id}/sections/dspt",
                           {**VALID_ANSWERS["dspt"], "year": "2023/24"})

    assert device.status_code == 400
    assert "The medical device certificate expired on 1 December 2025" in device.text
    assert dspt.status_code == 400
    assert "The Data Security and Protection Toolkit publication for 2023/24 expired on 30 June 2024" in dspt.text


async def test_a2_evidence_that_expired_after_it_was_entered_stops_submission(client, db, passwords, clock):
    application_id = await _draft(client, db, passwords, clock)
    await answer_everything(client, application_id)  # Cyber Essentials certificate valid until 15 January 2026
    clock.advance(timedelta(days=14))

    response = await submit(client, application_id)

    assert response.status_code == 400
    assert "The Cyber Essentials certificate expired on 15 January 2026" in response.text
    assert await scalar(db, sa.select(Application.state)) == "draft"


async def test_a2_a_supplier_cannot_be_admitted_on_evidence_that_expired_during_evaluation(client, db, passwords,
                                                                                          clock):
    application_id = await _draft(client, db, passwords, clock)
    await answer_everything(client, application_id)
    await submit(client, application_id)
    client.cookies.clear()
    evaluator = await make_authority_user(db, passwords, clock)
    await sign_in(client, evaluator.email)
    await evaluate_all(client, application_id)
    clock.advance(timedelta(days=14))

    response = await decide(client, application_id, "admit")

    assert response.status_code == 409
    assert "A supplier cannot be admitted on expired evidence" in response.text
    assert "The Cyber Essentials certificate expired on 15 January 2026" in response.text
    assert await scalar(db, sa.select(Application.state)) == "under_evaluation"

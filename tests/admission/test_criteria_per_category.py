"""A2, criteria are set per category: each category asks the agreement's common sections plus what it adds (the
medical device section for devices, DTAC and DSPT for digital tools). A supplier answers, and the authority
evaluates, only what the category asks."""

from __future__ import annotations

import sqlalchemy as sa

from dps.admission.models import Admission, Application
from dps.admission.questionnaire import (
    COMMON_SECTION_KEYS,
    SECTIONS,
    sections_asked,
)
from dps.agreements.models import Category
from dps.reference import CATEGORIES, load_reference_data
from tests.admission.support import (
    answer_sections,
    decide,
    evaluate_sections,
    start_application,
    submit,
)
from tests.factories import category_id, make_authority_user, make_supplier_with_user
from tests.helpers import post_form, scalar, sign_in

DIGITAL = "digital-mental-health"  # asks DTAC and DSPT, not the medical device section
DEVICES = "surgical-infection-prevention"  # asks the medical device section, not DTAC or DSPT
DIGITAL_KEYS = [key for key in (s.key for s in SECTIONS) if key in (*COMMON_SECTION_KEYS, "dtac", "dspt")]


async def test_a2_every_reference_category_names_the_sections_it_asks(db):
    rows = {slug: sections for slug, sections in
            (await db.execute(sa.select(Category.slug, Category.selection_sections))).all()}
    await db.rollback()
    assert set(rows) == {slug for _, slug, _, _ in CATEGORIES}
    for slug, sections in rows.items():
        assert set(COMMON_SECTION_KEYS) <= set(sections), slug
    assert "medical_device" in rows[DEVICES] and "dtac" not in rows[DEVICES] and "dspt" not in rows[DEVICES]
    assert {"dtac", "dspt"} <= set(rows[DIGITAL]) and "medical_device" not in rows[DIGITAL]
    assert {"medical_device", "dtac", "dspt"} <= set(rows["virtual-wards"])


def test_a2_a_category_without_its_own_list_asks_every_section_and_exclusion_is_always_asked():
    assert sections_asked([]) == SECTIONS
    assert [s.key for s in sections_asked(["nice_esf"])] == ["mandatory_exclusion", "nice_esf"]


async def test_a2_the_reference_data_gives_a_category_from_before_its_list(db, clock):
    await db.execute(sa.update(Category).where(Category.slug == DIGITAL).values(selection_sections=[]))
    await db.commit()

    await load_reference_data(db, clock.now())
    await db.commit()

    sections = await scalar(db, sa.select(Category.selection_sections).where(Category.slug == DIGITAL))
    assert "dtac" in sections and "medical_device" not in sections


async def test_a2_a_digital_tools_supplier_answers_only_what_its_category_asks(client, db, passwords, clock):
    _, supplier = await make_supplier_with_user(db, passwords, clock)
    await sign_in(client, supplier.email)
    application_id = await start_application(client, await category_id(db, DIGITAL))

    task_list = await client.get(f"/supplier/applications/{application_id}")
    assert "Digital Technology Assessment Criteria (DTAC)" in task_list.text
    assert "Data Security and Protection Toolkit (DSPT)" in task_list.text
    assert "Medical device regulation" not in task_list.text
    assert (await client.get(f"/supplier/applications/{application_id}/sections/medical_device")).status_code == 404

    await answer_sections(client, application_id, DIGITAL_KEYS)
    check = await client.get(f"/supplier/applications/{application_id}/check")
    assert "Medical device regulation" not in check.text
    response = await submit(client, application_id)

    assert response.status_code == 303, response.text[-2000:]
    assert await scalar(db, sa.select(Application.state)) == "submitted"


async def test_a2_a_devices_category_asks_for_mhra_registration_and_the_mark(client, db, passwords, clock):
    _, supplier = await make_supplier_with_user(db, passwords, clock)
    await sign_in(client, supplier.email)
    application_id = await start_application(client, await category_id(db, DEVICES))

    task_list = await client.get(f"/supplier/applications/{application_id}")
    assert "Medical device regulation" in task_list.text
    assert "DTAC" not in task_list.text and "DSPT" not in task_list.text
    section = await client.get(f"/supplier/applications/{application_id}/sections/medical_device")
    assert "MHRA registration reference" in section.text and "Conformity mark" in section.text

    await answer_sections(client, application_id, COMMON_SECTION_KEYS)
    response = await submit(client, application_id)

    assert response.status_code == 400
    assert "Complete every section before you submit: Medical device regulation" in response.text
    assert await scalar(db, sa.select(Application.state)) == "draft"


async def test_a2_the_authority_evaluates_every_asked_section_and_only_those(client, db, passwords, clock):
    _, supplier = await make_supplier_with_user(db, passwords, clock)
    await sign_in(client, supplier.email)
    application_id = await start_application(client, await category_id(db, DIGITAL))
    await answer_sections(client, application_id, DIGITAL_KEYS)
    await submit(client, application_id)
    client.cookies.clear()
    evaluator = await make_authority_user(db, passwords, clock)
    await sign_in(client, evaluator.email)

    page = await client.get(f"/authority/applications/{application_id}")
    assert "Medical device regulation" not in page.text and "DTAC" in page.text
    refused = await post_form(client, f"/authority/applications/{application_id}/sections/medical_device",
                              {"outcome": "pass", "comment": ""}, form_page=f"/authority/applications/{application_id}")
    assert refused.status_code == 404
    await evaluate_sections(client, application_id, [k for k in DIGITAL_KEYS if k != "dspt"])
    early = await decide(client, application_id, "admit")
    assert early.status_code == 409
    assert "Evaluate every section before admitting: Data Security and Protection Toolkit (DSPT)" in early.text

    await evaluate_sections(client, application_id, ["dspt"])
    response = await decide(client, application_id, "admit")

    assert response.status_code == 303, response.text[-2000:]
    assert await scalar(db, sa.select(Admission.state)) == "active"

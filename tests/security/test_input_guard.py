"""The input guard and its neighbours, one behaviour each: ids, whole numbers, NUL bytes, line breaks, lengths,
Retry-After, forwarded headers, escaping of user-written text in `html` parameters, mail headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dps.admission.models import Application
from dps.api_keys.services import create_api_key
from dps.audit.services import Actor
from dps.forms import MAX_ID, whole_number
from dps.mail import build_message
from dps.settings import Settings, SettingsError
from dps.web.input_guard import ONE_LINE_MAX_CHARS, one_line_fields
from tests.admission.support import start_application
from tests.factories import category_id, make_supplier_with_user
from tests.helpers import csrf_token, post_form, sign_in

# --- whole numbers: one parser, ASCII digits only ---------------------------------------------------------------


@given(st.integers(min_value=0, max_value=MAX_ID))
def test_every_id_in_range_reads_back(number):
    assert whole_number(str(number)) == number
    assert whole_number(f" {number} ") == number


@given(st.integers(min_value=MAX_ID + 1))
def test_a_number_beyond_the_maximum_is_none(number):
    assert whole_number(str(number)) is None


@given(st.text(min_size=1).filter(lambda text: not set(text.strip()) <= set("0123456789")))
def test_anything_but_ascii_digits_is_none(text):
    assert whole_number(text) is None


@pytest.mark.parametrize("text", ["²", "¹", "٣", "３", "-1", "1.0", "1e3", "+4", "", " "])
def test_unicode_digits_signs_and_blanks_are_not_numbers(text):
    assert whole_number(text) is None


def test_the_maximum_can_be_raised_for_cursors():
    assert whole_number(str(2**40), maximum=2**63 - 1) == 2**40
    assert whole_number(str(2**40)) is None


# --- ids in paths -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/catalogue/innovations/2147483648", "/catalogue/innovations/99999999999999999999",
                                  "/catalogue/innovations/0", "/contracts-register/ocds-dpsnhs-2147483648",
                                  "/contracts-register/ocds-dpsnhs-%C2%B2"])
async def test_an_id_beyond_32_bits_is_a_404_page(client, path):
    response = await client.get(path)
    assert response.status_code == 404
    assert "Page not found" in response.text


@pytest.mark.parametrize("path", ["/api/v1/innovations/2147483648", "/api/v1/innovations/%C2%B9",
                                  "/api/v1/ocds/records/ocds-dpsnhs-%C2%B2",
                                  "/api/v1/ocds/records/ocds-dpsnhs-2147483648"])
async def test_an_api_id_beyond_32_bits_or_in_unicode_digits_is_a_404_problem(client, db, clock, path):
    _, secret = await create_api_key(db, name="Probe", actor=Actor.system("test"), now=clock.now())
    response = await client.get(path, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("query", ["since=%C2%B2", "since=99999999999999999999999"])
async def test_a_unicode_or_oversized_cursor_is_a_400_problem(client, db, clock, query):
    _, secret = await create_api_key(db, name="Probe", actor=Actor.system("test"), now=clock.now())
    response = await client.get(f"/api/v1/changes?{query}", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "since"


@pytest.mark.parametrize("page", ["99999999999999999999999", "0", "²"])
async def test_a_page_number_out_of_range_is_a_400_not_an_overflow(client, page):
    response = await client.get(f"/contracts-register?page={page}")
    assert response.status_code == 400


# --- text: NUL bytes, line breaks, lengths ---------------------------------------------------------------------


async def supplier_client(client, db, passwords, clock):
    _, user = await make_supplier_with_user(db, passwords, clock)
    assert (await sign_in(client, user.email)).status_code == 303
    return user


async def test_a_nul_byte_in_any_form_field_is_refused_with_the_error_summary(client, db, passwords, clock):
    await supplier_client(client, db, passwords, clock)
    response = await post_form(client, "/supplier/listings", {"name": "Ward\x00watch", "summary": "ok"},
                               form_page="/supplier/listings/new")
    assert response.status_code == 400
    assert "nhsuk-error-summary" in response.text
    assert "null character" in response.text


async def test_a_nul_byte_in_the_query_string_is_refused(client):
    response = await client.get("/catalogue/search?q=ward%00watch")
    assert response.status_code == 400


def test_the_one_line_fields_are_read_from_the_templates():
    fields = one_line_fields()
    assert {"title", "name", "email"} <= fields
    assert not {"requirement", "description", "reasons"} & fields  # text areas may hold line breaks


async def test_a_line_break_in_a_one_line_field_is_refused(client, db, passwords, clock):
    await supplier_client(client, db, passwords, clock)
    response = await post_form(client, "/supplier/listings", {"name": "Ward\r\nBcc: x@example.com"},
                               form_page="/supplier/listings/new")
    assert response.status_code == 400
    assert "must be on one line" in response.text


async def test_a_one_line_field_has_a_length_limit(client, db, passwords, clock):
    await supplier_client(client, db, passwords, clock)
    response = await post_form(client, "/supplier/listings", {"name": "x" * (ONE_LINE_MAX_CHARS + 1)},
                               form_page="/supplier/listings/new")
    assert response.status_code == 400
    assert f"{ONE_LINE_MAX_CHARS} characters or fewer" in response.text


async def test_an_application_answer_has_a_limit_shown_in_its_hint_and_kept_when_too_long(client, db, passwords,
                                                                                          clock):
    await supplier_client(client, db, passwords, clock)
    application_id = await start_application(client, await category_id(db, "virtual-wards"))
    path = f"/supplier/applications/{application_id}/sections/mandatory_exclusion"
    too_long = "A" * 5001
    response = await post_form(client, path, {"grounds_apply": "yes", "details": too_long})
    assert response.status_code == 400
    assert "5,000 characters or fewer" in response.text
    assert "Up to 5,000 characters." in response.text  # the limit is in the question's hint
    assert too_long in response.text  # nothing typed is lost
    huge = await post_form(client, path, {"grounds_apply": "yes", "details": "A" * 200_000})
    assert huge.status_code == 400


# --- rate limits say when to come back -------------------------------------------------------------------------


async def test_every_429_carries_retry_after(client, settings):
    token = await csrf_token(client)
    response = None
    for attempt in range(settings.login_rate_limit_per_minute + 1):
        response = await client.post("/login", data={"email": f"r{attempt}@y.example", "password": "wrong",
                                                      "_csrf_token": token})
    assert response is not None and response.status_code == 429
    assert int(response.headers["retry-after"]) > 0


# --- forwarded headers ----------------------------------------------------------------------------------------


def test_no_proxy_is_trusted_unless_named():
    assert Settings.from_env({"DPS_ENV": "test"}).trusted_proxies == ()
    assert Settings.from_env({"DPS_ENV": "test", "TRUSTED_PROXIES": "10.0.0.1, 10.1.0.0/16"}).trusted_proxies == (
        "10.0.0.1", "10.1.0.0/16")
    with pytest.raises(SettingsError):
        Settings.from_env({"DPS_ENV": "test", "TRUSTED_PROXIES": "everyone"})


async def test_a_forwarded_address_does_not_dodge_the_sign_in_limit(client, settings):
    token = await csrf_token(client)
    statuses = []
    for attempt in range(settings.login_rate_limit_per_minute + 1):
        response = await client.post("/login", data={"email": f"f{attempt}@y.example", "password": "wrong",
                                                      "_csrf_token": token},
                                     headers={"X-Forwarded-For": f"203.0.113.{attempt}"})
        statuses.append(response.status_code)
    assert statuses[-1] == 429


# --- user-written text in html parameters is escaped -------------------------------------------------------------


async def test_an_extension_reason_with_markup_is_shown_as_text(client, db, passwords, clock):
    organisation, user = await make_supplier_with_user(db, passwords, clock)
    now = clock.now()
    application = Application(organisation_id=organisation.id, category_id=await category_id(db, "virtual-wards"),
                              state="submitted", answers={}, created_by_user_id=user.id, created_at=now,
                              updated_at=now, submitted_at=now, due_at=now + timedelta(days=21), extended_at=now,
                              extension_reason='<a href="https://evil.example">click</a><img src=x>')
    db.add(application)
    await db.commit()
    assert (await sign_in(client, user.email)).status_code == 303
    page = await client.get(f"/supplier/applications/{application.id}")
    assert page.status_code == 200
    assert '<a href="https://evil.example">' not in page.text and "<img src=x>" not in page.text
    assert "&lt;a href=" in page.text


# --- email headers ------------------------------------------------------------------------------------------------


def test_a_subject_with_line_breaks_still_builds_a_message(settings):
    message = build_message(settings, {"to": "a@example.com", "subject": "Award:\r\nBcc: x@example.com title",
                                       "body": "Hello"}, 1)
    assert message["Subject"] == "Award: Bcc: x@example.com title"
    assert message["Bcc"] is None


# --- methods ------------------------------------------------------------------------------------------------------


async def test_trace_is_refused_with_an_allow_header(client):
    response = await client.request("TRACE", "/catalogue")
    assert response.status_code == 405
    assert "GET" in response.headers.get("allow", "")

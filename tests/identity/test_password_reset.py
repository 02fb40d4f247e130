"""Password reset: "Forgot your password?" on sign-in; the same reply whether or not the address has an account; a
single-use link that works for 1 hour (by the injected clock); a reset ends every session of the account; the
requests are rate limited like sign-in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.identity.rules import PASSWORD_RESET_LIFETIME, may_send_reset, reset_link_problem, reset_token_hash
from dps.outbox.models import OutboxMessage
from tests.factories import make_supplier_with_user
from tests.helpers import PASSWORD, csrf_token, post_form, scalar, set_cookie, sign_in

NEW_PASSWORD = "lantern-orchard-meadow-42"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("expires_in", "used", "problem"), [
    (timedelta(minutes=59), False, None), (timedelta(0), False, "expired"), (timedelta(seconds=-1), False, "expired"),
    (timedelta(minutes=30), True, "used"), (timedelta(seconds=-1), True, "used")])
def test_a_reset_link_works_once_until_it_expires(expires_in, used, problem):
    assert reset_link_problem(expires_at=NOW + expires_in, used_at=NOW if used else None, now=NOW) == problem


def test_a_link_lasts_one_hour_only_its_hash_is_kept_and_a_few_are_sent_an_hour():
    assert timedelta(hours=1) == PASSWORD_RESET_LIFETIME
    assert reset_token_hash("abc") != "abc" and len(reset_token_hash("abc")) == 64
    assert [may_send_reset(n) for n in range(5)] == [True, True, True, False, False]


async def _reset_emails(db):
    rows = (await db.scalars(sa.select(OutboxMessage.payload).where(OutboxMessage.topic == "email"))).all()
    await db.commit()
    return [p for p in rows if p.get("subject") == "Reset your NHS Innovation DPS password"]


async def _ask(client, email):
    return await post_form(client, "/forgot-password", {"email": email})


async def test_the_reply_is_the_same_whether_or_not_the_address_has_an_account(client, db, passwords, clock):
    _, user = await make_supplier_with_user(db, passwords, clock)
    login = await client.get("/login")
    assert 'href="/forgot-password"' in login.text and "Forgot your password?" in login.text
    known = await _ask(client, user.email)
    unknown = await _ask(client, "nobody@nowhere.example")
    assert known.status_code == unknown.status_code == 200
    strip = re.compile(r"(value=\"[^\"]*\"|nonce=\"[^\"]*\"|nobody@nowhere\.example|" + re.escape(user.email) + ")")
    assert strip.sub("", known.text) == strip.sub("", unknown.text)
    assert "Check your email" in known.text
    [email] = await _reset_emails(db)
    assert email["to"] == user.email
    blank = await _ask(client, "")
    assert blank.status_code == 400 and 'href="#email"' in blank.text


async def test_a_reset_sets_the_password_ends_every_session_and_the_link_works_once(client, db, passwords, clock):
    _, user = await make_supplier_with_user(db, passwords, clock)
    email_address = user.email
    # A session signed in before the reset, say on another device: its cookie is kept to be shown again later.
    assert (await sign_in(client, email_address)).status_code == 303
    assert (await client.get("/supplier")).status_code == 200
    other_device = client.cookies.get("session")
    assert other_device
    client.cookies.clear()

    await _ask(client, email_address)
    [email] = await _reset_emails(db)
    link = re.search(r"\{dps-site-address\}(/reset-password\?token=\S+)", email["body"]).group(1)
    form = await client.get(link)
    assert form.status_code == 200 and "Choose a new password" in form.text
    token = link.split("token=")[1]
    short = await post_form(client, "/reset-password", {"token": token, "password": "short",
                                                        "confirmation": "short"}, form_page=link)
    assert short.status_code == 400 and "There is a problem" in short.text
    mismatch = await post_form(client, "/reset-password", {"token": token, "password": NEW_PASSWORD,
                                                           "confirmation": NEW_PASSWORD + "x"}, form_page=link)
    assert mismatch.status_code == 400 and 'href="#confirmation"' in mismatch.text
    done = await post_form(client, "/reset-password", {"token": token, "password": NEW_PASSWORD,
                                                       "confirmation": NEW_PASSWORD}, form_page=link)
    assert done.status_code == 303 and done.headers["location"] == "/login?reason=password_reset"

    client.cookies.clear()
    set_cookie(client, "session", other_device)
    assert (await client.get("/supplier")).status_code in (302, 303)  # the earlier session has ended
    client.cookies.clear()
    assert (await sign_in(client, email_address, PASSWORD)).status_code == 401
    client.cookies.clear()
    assert (await sign_in(client, email_address, NEW_PASSWORD)).status_code == 303
    assert (await client.get("/supplier")).status_code == 200
    again = await client.get(link)
    assert again.status_code == 400 and "already been used" in again.text
    assert await scalar(db, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "user.password_reset")) == 1


async def test_a_link_expires_after_one_hour_by_the_clock(client, db, passwords, clock):
    _, user = await make_supplier_with_user(db, passwords, clock)
    await _ask(client, user.email)
    [email] = await _reset_emails(db)
    link = re.search(r"(/reset-password\?token=\S+)", email["body"]).group(1)
    clock.advance(timedelta(minutes=59))
    assert (await client.get(link)).status_code == 200
    clock.advance(timedelta(minutes=1))
    expired = await client.get(link)
    assert expired.status_code == 400 and "has expired" in expired.text
    refused = await post_form(client, "/reset-password", {"token": link.split("token=")[1], "password": NEW_PASSWORD,
                                                          "confirmation": NEW_PASSWORD}, form_page="/login")
    assert refused.status_code == 400
    assert (await sign_in(client, user.email, NEW_PASSWORD)).status_code == 401
    assert (await client.get("/reset-password?token=made-up")).status_code == 400


async def test_reset_requests_are_rate_limited_like_sign_in(client, settings):
    token = await csrf_token(client, "/forgot-password")
    statuses = []
    for attempt in range(settings.login_rate_limit_per_minute + 1):
        response = await client.post("/forgot-password", data={"email": f"x{attempt}@y.example",
                                                               "_csrf_token": token})
        statuses.append(response.status_code)
    assert statuses[:-1] == [200] * settings.login_rate_limit_per_minute and statuses[-1] == 429


@pytest.mark.parametrize(("path", "heading"), [
    ("/accessibility", "Accessibility statement for the NHS Innovation DPS"), ("/privacy", "Privacy notice"),
    ("/cookies", "Cookies on the NHS Innovation DPS"), ("/contact", "Contact us"),
    ("/help", "Help using the NHS Innovation DPS"), ("/open-data/publication-policy", "Open data publication policy")])
async def test_the_footer_links_to_pages_written_for_this_service(client, path, heading):
    landing = await client.get("/")
    assert f'href="{path}"' in landing.text.split('role="contentinfo"')[1]
    page = await client.get(path)
    assert page.status_code == 200 and f"<h1>{heading}</h1>" in page.text

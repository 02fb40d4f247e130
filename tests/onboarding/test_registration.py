"""Registering and confirming an email address: errors keep what was typed, an existing account is never revealed,
links that are expired, changed, used already or meant for something else each get a clear page."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.identity import tokens
from dps.identity.models import User
from dps.outbox.models import OutboxMessage
from tests.factories import make_user
from tests.helpers import PASSWORD, count_rows, csrf_token, post_form, scalar, sign_in
from tests.onboarding.mail import deliver, email_link, messages_to
from tests.onboarding.test_journey import register


async def test_errors_name_each_field_and_keep_what_was_typed_but_not_passwords(client, db):
    response = await post_form(client, "/register", {"full_name": "Dee Smith", "email": "not-an-address",
                                                     "password": "short", "password_confirmation": "short"})
    assert response.status_code == 400
    assert "Enter an email address in the correct format" in response.text
    assert "Your password must be 12 characters or more" in response.text
    assert 'href="#email"' in response.text and 'href="#password"' in response.text
    assert 'value="Dee Smith"' in response.text and 'value="not-an-address"' in response.text
    assert 'value="short"' not in response.text
    assert await count_rows(db, User) == 0

    mismatch = await post_form(client, "/register", {"full_name": "", "email": "dee@x.example",
                                                     "password": PASSWORD, "password_confirmation": PASSWORD + "x"})
    assert mismatch.status_code == 400
    assert "Enter your full name" in mismatch.text and "The passwords do not match" in mismatch.text
    assert 'value="dee@x.example"' in mismatch.text
    assert await count_rows(db, User) == 0


async def test_registering_without_the_csrf_token_is_refused_and_writes_nothing(client, db):
    await client.get("/register")
    response = await client.post("/register", data={"full_name": "Eve", "email": "eve@x.example",
                                                    "password": PASSWORD, "password_confirmation": PASSWORD})
    assert response.status_code == 403
    assert await count_rows(db, User) == 0
    assert await count_rows(db, OutboxMessage) == 0


async def test_an_existing_address_gets_the_same_page_and_its_owner_an_email(client, db, passwords, clock, smtp_server,
                                                                             drain_outbox):
    await make_user(db, passwords, clock, email="ann@acme.example")  # confirmed account
    before_users = await count_rows(db, User)

    existing = await register(client, "ann@acme.example", full_name="Someone Else", password="a-different-password")
    client.cookies.clear()
    new = await register(client, "fresh@acme.example")

    assert existing.status_code == new.status_code == 303
    assert existing.headers["location"] == new.headers["location"] == "/register/check-email"
    assert await count_rows(db, User) == before_users + 1  # only the new address made an account
    await deliver(drain_outbox)
    [owner_email] = messages_to(smtp_server, "ann@acme.example")
    assert "already have an account" in owner_email.get_content()
    assert "/verify-email" not in owner_email.get_content()
    # The existing account is untouched: its password still works, the other one does not.
    assert (await sign_in(client, "ann@acme.example", password="a-different-password")).status_code == 401
    assert (await sign_in(client, "ann@acme.example")).status_code == 303


async def test_registering_again_before_confirming_sends_a_fresh_link_not_a_second_account(client, db, clock,
                                                                                           smtp_server, drain_outbox):
    await register(client, "gus@acme.example")
    clock.advance(timedelta(minutes=5))
    await register(client, "gus@acme.example")
    assert await count_rows(db, User) == 1
    await deliver(drain_outbox)
    assert len(messages_to(smtp_server, "gus@acme.example")) == 2


async def test_an_expired_link_says_so_and_can_ask_for_a_new_one(client, db, settings, clock, smtp_server,
                                                                 drain_outbox):
    await register(client, "hal@acme.example")
    link = await email_link(drain_outbox, smtp_server, settings, "hal@acme.example", "/verify-email")
    clock.advance(timedelta(hours=48))

    expired = await client.get(link)
    assert expired.status_code == 410
    assert "This link has expired" in expired.text and "Send me a new link" in expired.text
    assert await scalar(db, sa.select(User.email_verified_at)) is None

    token = link.split("token=", 1)[1]
    client.cookies.clear()  # another browser: only the link itself says whose it is
    resent = await post_form(client, "/register/resend", {"token": token}, form_page="/register")
    assert resent.status_code == 200
    assert "We have sent you a new email" in resent.text
    new_link = await email_link(drain_outbox, smtp_server, settings, "hal@acme.example", "/verify-email")
    assert new_link != link
    assert (await client.get(new_link)).status_code == 200
    assert await scalar(db, sa.select(User.email_verified_at)) == clock.now()


async def test_a_changed_link_is_refused_and_confirms_nothing(client, db, settings, smtp_server, drain_outbox):
    await register(client, "ida@acme.example")
    link = await email_link(drain_outbox, smtp_server, settings, "ida@acme.example", "/verify-email")
    last = link[-1]
    tampered = link[:-1] + ("A" if last != "A" else "B")
    before = await count_rows(db, AuditEvent)

    for bad in (tampered, "/verify-email?token=", "/verify-email?token=nonsense", "/verify-email"):
        response = await client.get(bad)
        assert response.status_code == 400, bad
        assert "This link is not valid" in response.text
    assert await scalar(db, sa.select(User.email_verified_at)) is None
    assert await count_rows(db, AuditEvent) == before


async def test_an_invitation_token_does_not_confirm_an_address(client, db, settings, clock):
    await register(client, "jo@acme.example")
    user = await scalar(db, sa.select(User).where(User.email == "jo@acme.example"))
    # A genuine token with the right user id and address, but signed for invitations.
    other_purpose = tokens.issue(settings.secret_key, purpose=tokens.INVITATION, subject_id=user.id,
                                 email=user.email, now=clock.now(), lifetime=timedelta(days=1))
    response = await client.get(f"/verify-email?token={other_purpose}")
    assert response.status_code == 400
    assert "This link is not valid" in response.text
    assert await scalar(db, sa.select(User.email_verified_at)) is None


async def test_a_used_link_says_the_address_is_already_confirmed(client, db, settings, clock, smtp_server,
                                                                 drain_outbox):
    await register(client, "kim@acme.example")
    link = await email_link(drain_outbox, smtp_server, settings, "kim@acme.example", "/verify-email")
    assert (await client.get(link)).status_code == 200
    verified_at = await scalar(db, sa.select(User.email_verified_at))
    clock.advance(timedelta(hours=1))

    again = await client.get(link)
    assert again.status_code == 200
    assert "Your email address is already confirmed" in again.text
    assert await scalar(db, sa.select(User.email_verified_at)) == verified_at  # not moved
    assert await scalar(db, sa.select(sa.func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "user.email_verified")) == 1


async def test_resending_is_rate_limited_per_account(client, db, clock, smtp_server, drain_outbox):
    await register(client, "lee@acme.example")
    assert (await sign_in(client, "lee@acme.example")).status_code == 303

    too_soon = await post_form(client, "/register/resend", {}, form_page="/verify-email/required")
    assert "We sent you an email recently" in too_soon.text
    clock.advance(timedelta(minutes=3))
    sent = await post_form(client, "/register/resend", {}, form_page="/verify-email/required")
    assert "We have sent you a new email" in sent.text
    for _ in range(3):
        clock.advance(timedelta(minutes=3))
        await post_form(client, "/register/resend", {}, form_page="/verify-email/required")
    clock.advance(timedelta(hours=1))
    over_the_daily_limit = await post_form(client, "/register/resend", {}, form_page="/verify-email/required")
    assert "We sent you an email recently" in over_the_daily_limit.text

    await deliver(drain_outbox)
    assert len(messages_to(smtp_server, "lee@acme.example")) == 5  # the most in any 24 hours
    clock.advance(timedelta(days=1))
    again = await post_form(client, "/register/resend", {}, form_page="/verify-email/required")
    assert "We have sent you a new email" in again.text


async def test_resending_from_the_check_your_email_page_never_says_whether_an_account_exists(client, db, passwords,
                                                                                             clock):
    await make_user(db, passwords, clock, email="mo@acme.example")  # confirmed already
    await register(client, "mo@acme.example")
    existing = await post_form(client, "/register/resend", {}, form_page="/register/check-email")
    client.cookies.clear()
    await register(client, "new@acme.example")
    clock.advance(timedelta(minutes=5))
    new = await post_form(client, "/register/resend", {}, form_page="/register/check-email")
    assert existing.status_code == new.status_code == 200
    assert page_text(existing.text, "mo@acme.example") == page_text(new.text, "new@acme.example")


def page_text(html: str, email: str) -> str:
    """The page without the address typed, the per-browser CSRF token and the per-response script nonce."""
    html = re.sub(r'name="_csrf_token" value="[^"]*"', "", html)
    return re.sub(r'nonce="[^"]*"', "", html).replace(email, "EMAIL")


async def test_registration_posts_are_rate_limited(client):
    token = await csrf_token(client, "/register")
    statuses = [
        (await client.post("/register", data={"email": "", "_csrf_token": token})).status_code for _ in range(11)
    ]
    assert statuses[:10] == [400] * 10
    assert statuses[10] == 429

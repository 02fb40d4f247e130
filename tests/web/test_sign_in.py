"""Sign-in, sign-out, sessions, CSRF and the login rate limit, through the HTTP layer."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.identity.models import Role
from tests.factories import make_supplier, make_trust, make_user
from tests.helpers import PASSWORD, count_rows, csrf_token, set_cookie, sign_in


async def audit_count(db) -> int:
    return await count_rows(db, AuditEvent)


async def failed_sign_ins(db) -> set[tuple[str, bool]]:
    """(email typed, whether it has an account) for each audited failed sign-in."""
    events = (await db.scalars(sa.select(AuditEvent).where(AuditEvent.action == "sign_in.failed"))).all()
    await db.commit()
    return {(event.after["email"], event.after["user_id"] is not None) for event in events}


async def test_supplier_signs_in_and_lands_on_the_supplier_portal(client, db, passwords, clock):
    supplier = await make_supplier(db, clock)
    await make_user(db, passwords, clock, email="ann@acme.example", organisation=supplier, role=Role.SUPPLIER_ADMIN)

    response = await sign_in(client, "ann@acme.example")

    assert response.status_code == 303
    assert response.headers["location"] == "/supplier"
    home = await client.get("/supplier")
    assert home.status_code == 200
    assert "Acme Health Ltd" in home.text
    assert "Sign out" in home.text


async def test_sign_in_follows_a_local_next_path_but_never_another_site(client, db, passwords, clock):
    trust = await make_trust(db, clock)
    await make_user(db, passwords, clock, email="bob@trust.example", organisation=trust, role=Role.BUYER)

    offsite = await sign_in(client, "bob@trust.example", next_path="//evil.example/phish")
    assert offsite.headers["location"] == "/buyer"

    client.cookies.clear()
    local = await sign_in(client, "bob@trust.example", next_path="/catalogue")
    assert local.headers["location"] == "/catalogue"


async def test_wrong_password_and_unknown_user_get_the_same_clear_message(client, db, passwords, clock):
    await make_user(db, passwords, clock, email="ann@acme.example")
    before = await audit_count(db)

    wrong = await sign_in(client, "ann@acme.example", password="not-the-password")
    unknown = await sign_in(client, "nobody@acme.example")

    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "There is a problem" in response.text
        assert "Enter a correct email address and password" in response.text
    assert 'value="ann@acme.example"' in wrong.text  # what was typed is kept
    # Each failure is counted and audited the same way, account or not; nothing else changed.
    assert await audit_count(db) == before + 2
    assert await failed_sign_ins(db) == {("ann@acme.example", True), ("nobody@acme.example", False)}
    assert (await client.get("/logout")).status_code == 303  # still not signed in


async def test_empty_form_names_each_missing_field(client):
    token = await csrf_token(client)
    response = await client.post("/login", data={"email": "", "password": "", "_csrf_token": token})
    assert response.status_code == 400
    assert "Enter your email address" in response.text
    assert "Enter your password" in response.text
    assert 'href="#email"' in response.text  # the error summary links to the field


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(client, db, passwords, clock):
    await make_user(db, passwords, clock, email="ann@acme.example")
    before = await audit_count(db)
    await client.get("/login")

    response = await client.post("/login", data={"email": "ann@acme.example", "password": PASSWORD})

    assert response.status_code == 403
    assert "reload the page and try again" in response.text
    assert await audit_count(db) == before
    assert (await client.get("/supplier")).status_code == 303  # not signed in


async def test_session_id_changes_at_sign_in(client, db, passwords, clock):
    await make_user(db, passwords, clock, email="ann@acme.example")
    set_cookie(client, "session", "attacker-chosen-session-id")

    response = await sign_in(client, "ann@acme.example")

    assert response.status_code == 303
    new_id = client.cookies.get("session")
    assert new_id and new_id != "attacker-chosen-session-id"
    session_cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("session="))
    assert "httponly" in session_cookie.lower()
    assert "samesite=lax" in session_cookie.lower()


async def test_sign_out_ends_the_session_on_the_server(client, db, passwords, clock):
    supplier = await make_supplier(db, clock)
    await make_user(db, passwords, clock, email="ann@acme.example", organisation=supplier, role=Role.SUPPLIER_USER)
    await sign_in(client, "ann@acme.example")
    old_session = client.cookies.get("session")
    token = await csrf_token(client, "/logout")

    response = await client.post("/logout", data={"_csrf_token": token})
    assert response.status_code == 303

    # Replaying the old cookie no longer works: the server forgot the session.
    set_cookie(client, "session", old_session)
    replay = await client.get("/supplier")
    assert replay.status_code == 303
    assert replay.headers["location"].startswith("/login?reason=expired")


async def test_expired_session_is_sent_to_sign_in_with_a_clear_reason(client):
    set_cookie(client, "session", "a-session-the-server-no-longer-has")
    response = await client.get("/supplier")
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "Your session has ended" in page.text


async def test_sign_in_attempts_are_rate_limited(client, settings):
    token = await csrf_token(client)
    statuses = []
    for attempt in range(settings.login_rate_limit_per_minute + 1):
        # A different address each time: this is the limit per client, not the lockout per address.
        response = await client.post("/login", data={"email": f"x{attempt}@y.example", "password": "wrong-password",
                                                      "_csrf_token": token})
        statuses.append(response.status_code)
    assert statuses[:-1] == [401] * settings.login_rate_limit_per_minute
    assert statuses[-1] == 429
    assert (await client.get("/login")).status_code == 200  # looking at the form is never limited


async def test_a_user_without_an_organisation_is_sent_to_set_one_up(client, db, passwords, clock):
    await make_user(db, passwords, clock, email="new@startup.example")
    response = await sign_in(client, "new@startup.example")
    assert response.headers["location"] == "/supplier/organisation/new"
    for page in ("/supplier", "/supplier/listings", "/supplier/competitions"):  # typed in, not only the home card
        typed = await client.get(page)
        assert typed.status_code == 303 and typed.headers["location"] == "/supplier/organisation/new", page
    assert (await client.get("/authority")).status_code == 403  # other portals still refuse


# Lockout per email address: 5 consecutive failures lock it for 15 minutes (the defaults; the clock starts at
# 09:00 UTC on Monday 5 January 2026, which is 09:00 in London in winter).

LOCKED_MESSAGE = "You cannot sign in with this email address until 9:15am on Monday 5 January 2026"


async def fail_sign_in(client, email: str, times: int) -> list[int]:
    return [(await sign_in(client, email, password="not-the-password")).status_code for _ in range(times)]


async def test_five_wrong_passwords_lock_the_account_and_say_until_when(client, db, passwords, clock):
    supplier = await make_supplier(db, clock)
    await make_user(db, passwords, clock, email="ann@acme.example", organisation=supplier, role=Role.SUPPLIER_ADMIN)

    statuses = await fail_sign_in(client, "ann@acme.example", 4)
    locking = await sign_in(client, "ann@acme.example", password="not-the-password")

    assert statuses == [401] * 4
    assert locking.status_code == 429
    assert LOCKED_MESSAGE in locking.text
    assert "You cannot sign in at the moment" in locking.text
    assert "contact the DPS authority" in locking.text
    assert locking.headers["retry-after"] == "900"
    assert 'value="ann@acme.example"' in locking.text

    # The right password does not get in while locked, and the lock is not extended by trying.
    clock.advance(timedelta(minutes=14, seconds=59))
    right_but_locked = await sign_in(client, "ann@acme.example")
    assert right_but_locked.status_code == 429
    assert LOCKED_MESSAGE in right_but_locked.text
    assert (await client.get("/supplier")).status_code == 303  # not signed in

    clock.set(clock.now().replace(hour=9, minute=15, second=0))
    after_the_lock = await sign_in(client, "ann@acme.example")
    assert after_the_lock.status_code == 303
    assert after_the_lock.headers["location"] == "/supplier"


async def test_an_address_without_an_account_locks_the_same_way(client, db, passwords, clock):
    await make_user(db, passwords, clock, email="ann@acme.example")
    known = await fail_sign_in(client, "ann@acme.example", 5)
    unknown = await fail_sign_in(client, "nobody@acme.example", 5)

    assert known == unknown == [401, 401, 401, 401, 429]
    known_page = await sign_in(client, "ann@acme.example", password="not-the-password")
    unknown_page = await sign_in(client, "nobody@acme.example", password="not-the-password")
    assert known_page.status_code == unknown_page.status_code == 429
    assert page_without_per_response_parts(known_page.text, "ann@") == page_without_per_response_parts(
        unknown_page.text, "nobody@")


def page_without_per_response_parts(html: str, typed: str) -> str:
    """The page less what differs by design between two responses: nonces, tokens and the address typed."""
    html = re.sub(r'(nonce|value)="[^"]*"', "", html.replace(typed, "someone@"))
    return html


async def test_a_successful_sign_in_clears_the_count(client, db, passwords, clock):
    await make_user(db, passwords, clock, email="ann@acme.example")
    assert await fail_sign_in(client, "ann@acme.example", 4) == [401] * 4
    assert (await sign_in(client, "ann@acme.example")).status_code == 303
    client.cookies.clear()
    assert await fail_sign_in(client, "ann@acme.example", 4) == [401] * 4  # four more are not yet a lock


async def test_locking_is_audited_with_the_address_and_the_account(client, db, passwords, clock):
    user = await make_user(db, passwords, clock, email="ann@acme.example")
    await fail_sign_in(client, "Ann@Acme.example ", 5)  # the address as sign-in looks it up

    locks = (await db.scalars(sa.select(AuditEvent).where(AuditEvent.action == "sign_in.locked"))).all()
    await db.commit()
    assert len(locks) == 1
    assert locks[0].after["email"] == "ann@acme.example"
    assert locks[0].after["user_id"] == user.id
    assert locks[0].after["failures"] == 5
    assert locks[0].after["locked_until"].startswith("2026-01-05T09:15:00")
    assert await failed_sign_ins(db) == {("ann@acme.example", True)}

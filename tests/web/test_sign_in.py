"""Sign-in, sign-out, sessions, CSRF and the login rate limit, through the HTTP layer."""

from __future__ import annotations

from dps.audit.models import AuditEvent
from dps.identity.models import Role
from tests.helpers import PASSWORD, count_rows, csrf_token, make_supplier, make_trust, make_user, set_cookie, sign_in


async def audit_count(db) -> int:
    return await count_rows(db, AuditEvent)


async def test_supplier_signs_in_and_lands_on_the_supplier_portal(client, db, passwords, clock):
    supplier = await make_supplier(db, clock)
    await make_user(db, passwords, clock, "ann@acme.example", supplier, Role.SUPPLIER_ADMIN)

    response = await sign_in(client, "ann@acme.example")

    assert response.status_code == 303
    assert response.headers["location"] == "/supplier"
    home = await client.get("/supplier")
    assert home.status_code == 200
    assert "Acme Health Ltd" in home.text
    assert "Sign out" in home.text


async def test_sign_in_follows_a_local_next_path_but_never_another_site(client, db, passwords, clock):
    trust = await make_trust(db, clock)
    await make_user(db, passwords, clock, "bob@trust.example", trust, Role.BUYER)

    offsite = await sign_in(client, "bob@trust.example", next_path="//evil.example/phish")
    assert offsite.headers["location"] == "/buyer"

    client.cookies.clear()
    local = await sign_in(client, "bob@trust.example", next_path="/catalogue")
    assert local.headers["location"] == "/catalogue"


async def test_wrong_password_and_unknown_user_get_the_same_clear_message(client, db, passwords, clock):
    await make_user(db, passwords, clock, "ann@acme.example")
    before = await audit_count(db)

    wrong = await sign_in(client, "ann@acme.example", password="not-the-password")
    unknown = await sign_in(client, "nobody@acme.example")

    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "There is a problem" in response.text
        assert "Enter a correct email address and password" in response.text
    assert 'value="ann@acme.example"' in wrong.text  # what was typed is kept
    assert await audit_count(db) == before  # nothing recorded, nothing changed
    assert (await client.get("/logout")).status_code == 303  # still not signed in


async def test_empty_form_names_each_missing_field(client):
    token = await csrf_token(client)
    response = await client.post("/login", data={"email": "", "password": "", "_csrf_token": token})
    assert response.status_code == 400
    assert "Enter your email address" in response.text
    assert "Enter your password" in response.text
    assert 'href="#email"' in response.text  # the error summary links to the field


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(client, db, passwords, clock):
    await make_user(db, passwords, clock, "ann@acme.example")
    before = await audit_count(db)
    await client.get("/login")

    response = await client.post("/login", data={"email": "ann@acme.example", "password": PASSWORD})

    assert response.status_code == 403
    assert "reload the page and try again" in response.text
    assert await audit_count(db) == before
    assert (await client.get("/supplier")).status_code == 303  # not signed in


async def test_session_id_changes_at_sign_in(client, db, passwords, clock):
    await make_user(db, passwords, clock, "ann@acme.example")
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
    await make_user(db, passwords, clock, "ann@acme.example", supplier, Role.SUPPLIER_USER)
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
    for _ in range(settings.login_rate_limit_per_minute + 1):
        response = await client.post("/login", data={"email": "x@y.example", "password": "wrong-password",
                                                      "_csrf_token": token})
        statuses.append(response.status_code)
    assert statuses[:-1] == [401] * settings.login_rate_limit_per_minute
    assert statuses[-1] == 429
    assert (await client.get("/login")).status_code == 200  # looking at the form is never limited


async def test_a_user_without_an_organisation_is_sent_to_set_one_up(client, db, passwords, clock):
    await make_user(db, passwords, clock, "new@startup.example")
    response = await sign_in(client, "new@startup.example")
    assert response.headers["location"] == "/supplier/organisation/new"

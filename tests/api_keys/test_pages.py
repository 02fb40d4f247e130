"""The pages of API keys through HTTP: a consumer signs up (email confirmed), creates, rotates and revokes keys and
sees each key's last use and requests today; nobody reaches another consumer's keys; the authority sees every key
with its holder, changes a key's rate limit and revokes any key, each taking effect at the next request."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from dps.api_keys.models import ApiConsumer, ApiKey
from dps.audit.models import AuditEvent
from dps.identity.models import Membership, Organisation, OrganisationKind, Role, User
from tests.factories import make_api_consumer, make_authority_user, make_supplier_with_user
from tests.helpers import PASSWORD, post_form, scalar, sign_in
from tests.onboarding.mail import email_link

SIGNUP = {"full_name": "Ria Reporter", "email": "Ria@Newsroom.example", "password": PASSWORD,
          "password_confirmation": PASSWORD, "organisation_name": "The Data Desk",
          "purpose": "Reporting on what the NHS buys, and from whom."}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def shown_secret(page: str) -> str:
    found = re.search(r'<code id="new-api-key">([^<]+)</code>', page)
    assert found, "no key on the page"
    return found.group(1)


def row_of(page: str, name: str) -> str:
    """The table row of the key called `name`, as text with the tags taken out."""
    for row in re.findall(r"<tr[^>]*class=\"nhsuk-table__row\"[^>]*>(.*?)</tr>", page, flags=re.S):
        if name in row:
            return " ".join(re.sub(r"<[^>]+>", " ", row).split())
    raise AssertionError(f"no row for {name}")


async def test_a_consumer_signs_up_confirms_and_manages_their_keys(client, db, settings, clock, smtp_server,
                                                                   drain_outbox):
    form = await client.get("/api-keys/register")
    assert form.status_code == 200 and 'name="organisation_name"' in form.text and 'name="purpose"' in form.text

    # Every wrong field is named at once, with what was typed kept (never the password).
    refused = await post_form(client, "/api-keys/register", {**SIGNUP, "organisation_name": " ", "purpose": "data",
                                                             "password_confirmation": "something else"},
                              form_page="/api-keys/register")
    assert refused.status_code == 400
    assert "There is a problem" in refused.text
    for message in ("Enter the name of your organisation", "Tell us a little more about what you will use the API",
                    "The passwords do not match"):
        assert message in refused.text
    assert 'value="Ria Reporter"' in refused.text and PASSWORD not in refused.text

    registered = await post_form(client, "/api-keys/register", SIGNUP, form_page="/api-keys/register")
    assert registered.status_code == 303 and registered.headers["location"] == "/register/check-email"
    assert "sign in to get your API key" in (await client.get("/register/check-email")).text
    user = await scalar(db, sa.select(User).where(User.email == "ria@newsroom.example"))
    assert user.email_verified_at is None
    organisation = await scalar(db, sa.select(Organisation).join(Membership, Membership.organisation_id ==
                                                                 Organisation.id).where(Membership.user_id == user.id))
    assert (organisation.kind, organisation.name) == (OrganisationKind.API_CONSUMER, "The Data Desk")
    assert await scalar(db, sa.select(ApiConsumer.purpose)) == SIGNUP["purpose"]

    # Signed in before confirming: the keys wait for the confirmed address.
    assert (await sign_in(client, "ria@newsroom.example")).headers["location"] == "/api-keys"
    waiting = await client.get("/api-keys")
    assert waiting.status_code == 303 and waiting.headers["location"] == "/verify-email/required"
    client.cookies.clear()

    link = await email_link(drain_outbox, smtp_server, settings, "ria@newsroom.example", "/verify-email")
    confirmed = await client.get(link)
    assert "Sign in to get your API key" in confirmed.text and "next=%2Fapi-keys" in confirmed.text
    assert (await sign_in(client, "ria@newsroom.example")).headers["location"] == "/api-keys"
    landing = await client.get("/")
    assert 'href="/api-keys"' in landing.text and "Your API keys" in landing.text
    assert (await client.get("/api-keys/register")).headers["location"] == "/api-keys"

    page = await client.get("/api-keys")
    assert page.status_code == 200 and "The Data Desk" in page.text and "You have no keys in use" in page.text
    blank = await post_form(client, "/api-keys", {"name": "  "})
    assert blank.status_code == 400 and "Enter a name for the key" in blank.text

    created = await post_form(client, "/api-keys", {"name": "Newsroom scraper"})
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    secret = shown_secret(created.text)
    assert f'Authorization: Bearer {secret}' in created.text  # the example shows how to send it
    assert secret not in (await client.get("/api-keys")).text  # shown once
    key = await scalar(db, sa.select(ApiKey).where(ApiKey.name == "Newsroom scraper"))
    assert secret != key.key_hash and secret.startswith(key.prefix)

    # Three requests: counted for today, the last use written (the first now, the rest when the page is shown).
    for _ in range(2):
        assert (await client.get("/api/v1/innovations", headers=bearer(secret))).status_code == 200
    clock.advance(timedelta(minutes=2))
    assert (await client.get("/api/v1/changes", headers=bearer(secret))).status_code == 200
    row = row_of((await client.get("/api-keys")).text, "Newsroom scraper")
    assert "Requests today 3" in row and "Not used yet" not in row
    assert await scalar(db, sa.select(ApiKey.last_used_at).where(ApiKey.id == key.id)) == clock.now()

    # Rotate: a new secret, the old one refused at once.
    rotated = await post_form(client, f"/api-keys/{key.id}/rotate", {}, form_page="/api-keys")
    new_secret = shown_secret(rotated.text)
    assert new_secret != secret and rotated.headers["cache-control"] == "no-store"
    assert (await client.get("/api/v1/innovations", headers=bearer(secret))).status_code == 401
    assert (await client.get("/api/v1/innovations", headers=bearer(new_secret))).status_code == 200

    revoked = await post_form(client, f"/api-keys/{key.id}/revoke", {}, form_page="/api-keys")
    assert revoked.status_code == 303 and revoked.headers["location"] == "/api-keys?done=revoked"
    assert (await client.get("/api/v1/innovations", headers=bearer(new_secret))).status_code == 401
    after = await client.get("/api-keys?done=revoked")
    assert "The key has been revoked" in after.text and "Revoked keys (1)" in after.text
    actions = (await db.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_type == "api_key")
                                .order_by(AuditEvent.id))).all()
    await db.commit()
    assert list(actions) == ["api_key.created", "api_key.rotated", "api_key.revoked"]


async def test_someone_signed_in_becomes_a_consumer_with_organisation_and_purpose(client, db, passwords, clock):
    _, user = await make_supplier_with_user(db, passwords, clock, email="ann@acme.example")
    await sign_in(client, user.email)
    form = await client.get("/api-keys/register")
    assert 'name="purpose"' in form.text and 'name="password"' not in form.text
    done = await post_form(client, "/api-keys/register", {"organisation_name": "Acme Health Ltd",
                                                          "purpose": "Show our listings on our own site"},
                           form_page="/api-keys/register")
    assert done.status_code == 303 and done.headers["location"] == "/api-keys"
    assert (await client.get("/api-keys")).status_code == 200
    assert (await client.get("/supplier")).status_code == 200  # still a supplier


async def test_a_consumer_never_sees_or_touches_another_consumers_keys(client, db, passwords, clock):
    await make_api_consumer(db, passwords, clock, email="ria@newsroom.example")
    await make_api_consumer(db, passwords, clock, email="sam@uni.example", organisation_name="University of Leeds")
    await sign_in(client, "ria@newsroom.example")
    secret = shown_secret((await post_form(client, "/api-keys", {"name": "Ria's secret project"})).text)
    key_id = await scalar(db, sa.select(ApiKey.id))

    client.cookies.clear()
    await sign_in(client, "sam@uni.example")
    page = await client.get("/api-keys")
    assert "Ria's secret project" not in page.text and "University of Leeds" in page.text
    for action in ("rotate", "revoke"):
        response = await post_form(client, f"/api-keys/{key_id}/{action}", {}, form_page="/api-keys")
        assert response.status_code == 404, action
        assert "Ria" not in response.text
    assert (await client.get("/api/v1/innovations", headers=bearer(secret))).status_code == 200


async def test_only_consumers_reach_the_keys_pages(client, db, passwords, clock):
    for path in ("/api-keys",):
        anonymous = await client.get(path)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?reason=required")
    _, supplier = await make_supplier_with_user(db, passwords, clock, email="ann@acme.example")
    await sign_in(client, supplier.email)
    assert (await client.get("/api-keys")).status_code == 403
    assert (await post_form(client, "/api-keys", {"name": "x"}, form_page="/")).status_code == 403
    client.cookies.clear()
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, admin.email)
    assert (await client.get("/api-keys")).status_code == 403
    client.cookies.clear()
    await make_api_consumer(db, passwords, clock, email="ria@newsroom.example")
    await sign_in(client, "ria@newsroom.example")
    assert (await client.get("/authority/api-keys")).status_code == 403


async def test_the_authority_sees_every_key_changes_its_limit_and_revokes_it(client, db, passwords, clock):
    await make_api_consumer(db, passwords, clock, email="ria@newsroom.example", organisation_name="The Data Desk",
                            purpose="Reporting on what the NHS buys")
    await sign_in(client, "ria@newsroom.example")
    secret = shown_secret((await post_form(client, "/api-keys", {"name": "Newsroom scraper"})).text)
    key_id = await scalar(db, sa.select(ApiKey.id))
    first = await client.get("/api/v1/innovations", headers=bearer(secret))
    assert first.headers["ratelimit-limit"] == "600"

    client.cookies.clear()
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, admin.email)
    listing = await client.get("/authority/api-keys")
    row = row_of(listing.text, "Newsroom scraper")
    for seen in ("The Data Desk", "ria@newsroom.example", "For: Reporting on what the NHS buys", "Requests today 1",
                 "Limit a minute 600"):
        assert seen in row, (seen, row)
    shown = await client.get(f"/authority/api-keys/{key_id}")
    assert "Reporting on what the NHS buys" in shown.text and "ria@newsroom.example" in shown.text
    assert (await client.get("/authority/api-keys/999999")).status_code == 404

    for typed, message in (("", "Enter the rate limit as a whole number"), ("0", "at least 1 request"),
                           ("1,200", "from 1 to 1,000,000"), ("²", "from 1 to 1,000,000"),
                           ("1000001", "from 1 to 1,000,000")):
        refused = await post_form(client, f"/authority/api-keys/{key_id}/rate-limit", {"rate_limit": typed},
                                  form_page=f"/authority/api-keys/{key_id}")
        assert refused.status_code == 400, typed
        assert "There is a problem" in refused.text and message in refused.text, typed
        assert 'href="#rate_limit"' in refused.text
    raised = await post_form(client, f"/authority/api-keys/{key_id}/rate-limit", {"rate_limit": "2400"},
                             form_page=f"/authority/api-keys/{key_id}")
    assert raised.status_code == 303
    assert "The rate limit has been changed" in (await client.get(raised.headers["location"])).text
    # The key was cached by the guard; the new limit holds from the very next request.
    assert (await client.get("/api/v1/innovations", headers=bearer(secret))).headers["ratelimit-limit"] == "2400"

    revoked = await post_form(client, f"/authority/api-keys/{key_id}/revoke", {}, form_page="/authority/api-keys")
    assert revoked.status_code == 303
    assert (await client.get("/api/v1/innovations", headers=bearer(secret))).status_code == 401
    assert "Revoked" in row_of((await client.get("/authority/api-keys")).text, "Newsroom scraper")
    events = (await db.execute(sa.select(AuditEvent.action, AuditEvent.actor_user_id)
                               .where(AuditEvent.entity_type == "api_key").order_by(AuditEvent.id))).all()
    await db.commit()
    assert [action for action, _ in events] == ["api_key.created", "api_key.rate_limit_changed", "api_key.revoked"]
    assert events[-1][1] == admin.id

"""Inviting colleagues: administrators only; the emailed link works once, for the invited address, until it expires
or is withdrawn; other organisations cannot see or withdraw the invitations (404)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.identity import tokens
from dps.identity.models import Invitation, Membership, Role, User
from dps.outbox.models import OutboxMessage
from tests.factories import make_supplier, make_user
from tests.helpers import PASSWORD, count_rows, post_form, scalar, sign_in
from tests.onboarding.mail import email_link

NEW_PASSWORD = "a-brand-new-password"


@pytest.fixture
async def acme(db, passwords, clock):
    organisation = await make_supplier(db, clock)
    await make_user(db, passwords, clock, email="ann@acme.example", organisation=organisation, role=Role.SUPPLIER_ADMIN)
    return organisation


async def invite(client, organisation, email="bob@acme.example", role="supplier_user"):
    return await post_form(client, f"/supplier/organisation/{organisation.id}/team/invite",
                           {"email": email, "role": role})


async def invitation_link(client, acme, settings, drain_outbox, smtp_server, email="bob@acme.example") -> str:
    await sign_in(client, "ann@acme.example")
    assert (await invite(client, acme, email)).status_code == 303
    client.cookies.clear()
    return await email_link(drain_outbox, smtp_server, settings, email, "/invitations/accept")


async def accept_as_newcomer(client, link: str):
    token = link.split("token=", 1)[1]
    return await post_form(client, "/invitations/accept",
                           {"token": token, "full_name": "Bob Newcomer", "password": NEW_PASSWORD,
                            "password_confirmation": NEW_PASSWORD}, form_page="/login")


async def test_invitation_form_errors_keep_what_was_typed(client, db, acme):
    await sign_in(client, "ann@acme.example")
    response = await invite(client, acme, email="bob at acme", role="")
    assert response.status_code == 400
    assert "Enter an email address in the correct format" in response.text
    assert "Select the role your colleague will have" in response.text
    assert 'value="bob at acme"' in response.text

    member = await invite(client, acme, email="ANN@acme.example", role="supplier_admin")
    assert member.status_code == 400 and "already a member" in member.text

    assert (await invite(client, acme)).status_code == 303
    twice = await invite(client, acme, email="bob@acme.example", role="supplier_admin")
    assert twice.status_code == 400 and "waiting to be accepted" in twice.text
    assert await count_rows(db, Invitation) == 1


async def test_a_role_outside_the_supplier_roles_cannot_be_given(client, db, acme):
    await sign_in(client, "ann@acme.example")
    response = await invite(client, acme, role="authority_admin")
    assert response.status_code == 400
    assert await count_rows(db, Invitation) == 0


async def test_a_supplier_user_cannot_invite(client, db, passwords, clock, acme):
    await make_user(db, passwords, clock, email="sue@acme.example", organisation=acme, role=Role.SUPPLIER_USER)
    await sign_in(client, "sue@acme.example")

    team = await client.get(f"/supplier/organisation/{acme.id}/team")
    assert team.status_code == 200 and "Invite a colleague" not in team.text
    assert (await client.get(f"/supplier/organisation/{acme.id}/team/invite")).status_code == 403
    response = await post_form(client, f"/supplier/organisation/{acme.id}/team/invite",
                               {"email": "mal@evil.example", "role": "supplier_admin"}, form_page="/supplier")
    assert response.status_code == 403
    assert await count_rows(db, Invitation) == 0
    assert await count_rows(db, OutboxMessage) == 0


async def test_inviting_without_the_csrf_token_is_refused_and_writes_nothing(client, db, acme):
    await sign_in(client, "ann@acme.example")
    await client.get(f"/supplier/organisation/{acme.id}/team/invite")
    response = await client.post(f"/supplier/organisation/{acme.id}/team/invite",
                                 data={"email": "bob@acme.example", "role": "supplier_user"})
    assert response.status_code == 403
    assert await count_rows(db, Invitation) == 0
    assert await count_rows(db, OutboxMessage) == 0


async def test_another_organisation_can_neither_see_nor_withdraw_the_invitations(client, db, passwords, clock, acme):
    other = await make_supplier(db, clock, name="Rival Ltd", number="07654321")
    await make_user(db, passwords, clock, email="rita@rival.example", organisation=other, role=Role.SUPPLIER_ADMIN)
    await sign_in(client, "ann@acme.example")
    await invite(client, acme)
    invitation = await scalar(db, sa.select(Invitation))
    client.cookies.clear()
    await sign_in(client, "rita@rival.example")

    assert (await client.get(f"/supplier/organisation/{acme.id}/team")).status_code == 404
    assert (await client.get(f"/supplier/organisation/{acme.id}/team/invite")).status_code == 404
    for path in (f"/supplier/organisation/{acme.id}/team/invitations/{invitation.id}/revoke",
                 f"/supplier/organisation/{other.id}/team/invitations/{invitation.id}/revoke"):
        response = await post_form(client, path, {}, form_page="/supplier")
        assert response.status_code == 404, path
        assert "Acme Health Ltd" not in response.text
    assert (await scalar(db, sa.select(Invitation.expires_at))) == invitation.expires_at  # still pending


async def test_withdrawing_an_invitation_stops_its_link(client, db, settings, smtp_server, acme, drain_outbox):
    link = await invitation_link(client, acme, settings, drain_outbox, smtp_server)
    invitation = await scalar(db, sa.select(Invitation))
    await sign_in(client, "ann@acme.example")
    team_path = f"/supplier/organisation/{acme.id}/team"
    assert "bob@acme.example" in (await client.get(team_path)).text

    withdrawn = await post_form(client, f"{team_path}/invitations/{invitation.id}/revoke", {}, form_page=team_path)
    assert withdrawn.status_code == 303
    assert "bob@acme.example" not in (await client.get(team_path)).text
    event = await scalar(db, sa.select(AuditEvent).where(AuditEvent.action == "invitation.revoked"))
    assert event.entity_id == str(invitation.id) and event.actor_label == "ann@acme.example"

    client.cookies.clear()
    page = await client.get(link)
    assert page.status_code == 410
    assert "This invitation has been withdrawn" in page.text
    assert (await accept_as_newcomer(client, link)).status_code == 410
    assert await scalar(db, sa.select(User.id).where(User.email == "bob@acme.example")) is None

    # Withdrawing it again is refused clearly.
    await sign_in(client, "ann@acme.example")
    again = await post_form(client, f"{team_path}/invitations/{invitation.id}/revoke", {}, form_page=team_path)
    assert again.status_code == 409


async def test_an_expired_invitation_says_so_and_creates_nothing(client, db, settings, clock, smtp_server, acme,
                                                                 drain_outbox):
    link = await invitation_link(client, acme, settings, drain_outbox, smtp_server)
    clock.advance(timedelta(days=7))

    page = await client.get(link)
    assert page.status_code == 410
    assert "This invitation has expired" in page.text
    assert (await accept_as_newcomer(client, link)).status_code == 410
    assert await scalar(db, sa.select(User.id).where(User.email == "bob@acme.example")) is None


async def test_an_accepted_invitation_cannot_be_used_again(client, db, settings, smtp_server, acme, drain_outbox):
    link = await invitation_link(client, acme, settings, drain_outbox, smtp_server)
    assert (await accept_as_newcomer(client, link)).status_code == 303
    client.cookies.clear()

    page = await client.get(link)
    assert page.status_code == 409
    assert "This invitation has already been accepted" in page.text
    assert (await accept_as_newcomer(client, link)).status_code == 409
    assert await count_rows(db, User) == 2


async def test_the_wrong_account_is_told_so_and_gains_nothing(client, db, passwords, clock, settings, smtp_server, acme,
                                                              drain_outbox):
    await make_user(db, passwords, clock, email="carl@elsewhere.example")
    link = await invitation_link(client, acme, settings, drain_outbox, smtp_server)
    await sign_in(client, "carl@elsewhere.example")

    page = await client.get(link)
    assert page.status_code == 403
    assert "This invitation is for a different account" in page.text
    token = link.split("token=", 1)[1]
    response = await post_form(client, "/invitations/accept", {"token": token}, form_page="/")
    assert response.status_code == 403
    assert await scalar(db, sa.select(sa.func.count()).select_from(Membership)
                        .where(Membership.organisation_id == acme.id)) == 1
    assert await scalar(db, sa.select(Invitation.accepted_at)) is None


async def test_someone_with_an_account_signs_in_to_accept(client, db, passwords, settings, smtp_server, acme,
                                                          drain_outbox):
    # Registered earlier but never confirmed the address: accepting confirms it.
    await post_form(client, "/register", {"full_name": "Bob Builder", "email": "bob@acme.example",
                                          "password": PASSWORD, "password_confirmation": PASSWORD})
    client.cookies.clear()
    link = await invitation_link(client, acme, settings, drain_outbox, smtp_server)

    offer = await client.get(link)
    assert "Sign in to accept" in offer.text
    token = link.split("token=", 1)[1]
    sneaky = await post_form(client, "/invitations/accept", {"token": token, "full_name": "X",
                                                             "password": NEW_PASSWORD,
                                                             "password_confirmation": NEW_PASSWORD}, form_page="/")
    assert sneaky.status_code == 303 and sneaky.headers["location"].startswith("/login?next=")
    assert await count_rows(db, User) == 2  # no second account, password unchanged

    signed_in = await sign_in(client, "bob@acme.example", next_path=link)
    assert signed_in.headers["location"] == link
    confirm = await client.get(link)
    assert "Accept the invitation" in confirm.text
    accepted = await post_form(client, "/invitations/accept", {"token": token}, form_page=link)
    assert accepted.status_code == 303
    assert (await client.get(accepted.headers["location"])).status_code == 200
    bob = await scalar(db, sa.select(User).where(User.email == "bob@acme.example"))
    assert bob.email_verified_at is not None
    assert await scalar(db, sa.select(Membership.role).where(Membership.user_id == bob.id)) == Role.SUPPLIER_USER


async def test_a_new_colleague_account_needs_a_name_and_a_long_enough_password(client, db, settings, smtp_server, acme,
                                                                               drain_outbox):
    link = await invitation_link(client, acme, settings, drain_outbox, smtp_server)
    token = link.split("token=", 1)[1]
    response = await post_form(client, "/invitations/accept", {"token": token, "full_name": "Bob",
                                                               "password": "short", "password_confirmation": "short"},
                               form_page=link)
    assert response.status_code == 400
    assert "Your password must be 12 characters or more" in response.text
    assert 'value="Bob"' in response.text
    assert await scalar(db, sa.select(User.id).where(User.email == "bob@acme.example")) is None


async def test_changed_and_other_purpose_invitation_links_are_refused(client, db, settings, clock, smtp_server, acme,
                                                                      drain_outbox):
    link = await invitation_link(client, acme, settings, drain_outbox, smtp_server)
    invitation = await scalar(db, sa.select(Invitation))
    tampered = link[:-1] + ("A" if link[-1] != "A" else "B")
    verification = tokens.issue(settings.secret_key, purpose=tokens.EMAIL_VERIFICATION, subject_id=invitation.id,
                                email=invitation.email, now=clock.now(), lifetime=timedelta(days=1))
    for bad in (tampered, f"/invitations/accept?token={verification}", "/invitations/accept"):
        response = await client.get(bad)
        assert response.status_code == 400, bad
        assert "This link is not valid" in response.text
    assert (await accept_as_newcomer(client, tampered)).status_code == 400
    assert await scalar(db, sa.select(Invitation.accepted_at)) is None

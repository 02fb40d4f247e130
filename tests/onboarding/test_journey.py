"""The whole way in, through the HTTP layer and a real SMTP server: register, confirm the address by the emailed
link, sign in, set up the organisation (SME status shown with its reason), invite a colleague, who accepts through
the emailed link and then signs in and sees the organisation."""

from __future__ import annotations

import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.audit.services import verify_chain
from dps.identity.models import Invitation, Membership, Organisation, Role, User
from tests.helpers import PASSWORD, csrf_token, post_form, scalar, seal_audit_log, sign_in
from tests.onboarding.mail import email_link, messages_to

ORGANISATION_FORM = {
    "legal_name": "Brightwater Diagnostics Ltd",
    "trading_name": "Brightwater",
    "companies_house_number": "sc 123456",
    "registered_address": "1 Harbour Street\nLeith\nEH6 6QH",
    "headcount": "42",
    "turnover": "£1,250,000",
    "balance_sheet_total": "800000.50",
}


async def register(client, email: str, full_name: str = "Ann Founder", password: str = PASSWORD):
    return await post_form(client, "/register", {"full_name": full_name, "email": email, "password": password,
                                                 "password_confirmation": password})


async def test_register_verify_create_organisation_invite_and_accept(client, db, settings, clock, smtp_server,
                                                                     drain_outbox):
    # Register: nothing is usable until the address is confirmed.
    response = await register(client, "Ann@Brightwater.example")
    assert response.status_code == 303
    assert response.headers["location"] == "/register/check-email"
    check_page = await client.get("/register/check-email")
    assert "ann@brightwater.example" in check_page.text
    user = await scalar(db, sa.select(User).where(User.email == "ann@brightwater.example"))
    assert user is not None and user.email_verified_at is None

    # The verification email reaches the SMTP server; its link confirms the address.
    link = await email_link(drain_outbox, smtp_server, settings, "ann@brightwater.example", "/verify-email")
    assert messages_to(smtp_server, "ann@brightwater.example")[0]["Subject"].startswith("Confirm your email")
    verified = await client.get(link)
    assert verified.status_code == 200
    assert "Email address confirmed" in verified.text
    assert (await scalar(db, sa.select(User.email_verified_at).where(User.id == user.id))) == clock.now()

    # Sign in and set up the organisation, through the check-your-answers page.
    signed_in = await sign_in(client, "ann@brightwater.example")
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/supplier/organisation/new"  # a new user's next step
    landing = await client.get("/")
    assert "Set up your supplier organisation" in landing.text
    answers = await post_form(client, "/supplier/organisation/new", ORGANISATION_FORM)
    assert answers.status_code == 303
    assert answers.headers["location"] == "/supplier/organisation/new/check"
    check = await client.get("/supplier/organisation/new/check")
    assert "SC123456" in check.text  # normalised
    assert "£1,250,000.00" in check.text and "£800,000.50" in check.text
    assert "Your organisation is an SME" in check.text
    assert "An SME: 42 staff is fewer than 250" in check.text
    assert await scalar(db, sa.select(sa.func.count()).select_from(Organisation)
                        .where(Organisation.companies_house_number == "SC123456")) == 0  # not yet

    created = await post_form(client, "/supplier/organisation/new/check", {},
                              form_page="/supplier/organisation/new/check")
    assert created.status_code == 303
    organisation = await scalar(db, sa.select(Organisation).where(Organisation.companies_house_number == "SC123456"))
    assert organisation.name == "Brightwater Diagnostics Ltd"
    assert (organisation.turnover_pence, organisation.balance_sheet_pence, organisation.headcount) == (
        125_000_000, 80_000_050, 42)
    assert created.headers["location"].startswith(f"/supplier/organisation/{organisation.id}")
    page = await client.get(created.headers["location"])
    assert page.status_code == 200
    assert "Your organisation is an SME" in page.text and "An SME: 42 staff is fewer than 250" in page.text
    role = await scalar(db, sa.select(Membership.role).where(Membership.user_id == user.id,
                                                             Membership.organisation_id == organisation.id))
    assert role == Role.SUPPLIER_ADMIN
    assert (await client.get("/supplier")).status_code == 200  # now a supplier

    # Invite a colleague.
    invited = await post_form(client, f"/supplier/organisation/{organisation.id}/team/invite",
                              {"email": "Bob@Brightwater.example", "role": "supplier_user"})
    assert invited.status_code == 303
    team = await client.get(f"/supplier/organisation/{organisation.id}/team")
    assert "bob@brightwater.example" in team.text

    # The colleague opens the emailed link in another browser and creates an account there.
    accept_link = await email_link(drain_outbox, smtp_server, settings, "bob@brightwater.example",
                                   "/invitations/accept")
    client.cookies.clear()
    offer = await client.get(accept_link)
    assert offer.status_code == 200
    assert "Join Brightwater Diagnostics Ltd" in offer.text and "Create your account" in offer.text
    assert "as a user" in offer.text
    token = accept_link.split("token=", 1)[1]
    accepted = await post_form(client, "/invitations/accept",
                               {"token": token, "full_name": "Bob Colleague", "password": "another-long-password",
                                "password_confirmation": "another-long-password"}, form_page=accept_link)
    assert accepted.status_code == 303
    bob = await scalar(db, sa.select(User).where(User.email == "bob@brightwater.example"))
    assert bob.email_verified_at == clock.now()  # opening the link proved the mailbox
    invitation = await scalar(db, sa.select(Invitation))
    assert invitation.accepted_user_id == bob.id

    # Later, Bob signs in and sees the organisation, as a user (not an administrator).
    client.cookies.clear()
    assert (await sign_in(client, "bob@brightwater.example", password="another-long-password")).status_code == 303
    home = await client.get("/supplier")
    assert home.status_code == 200 and "Brightwater Diagnostics Ltd" in home.text
    organisation_page = await client.get(f"/supplier/organisation/{organisation.id}")
    assert organisation_page.status_code == 200
    assert "SC123456" in organisation_page.text
    assert "Change the organisation" not in organisation_page.text
    team = await client.get(f"/supplier/organisation/{organisation.id}/team")
    assert "Ann Founder" in team.text and "Bob Colleague" in team.text
    assert "There are no invitations waiting to be accepted" in team.text

    # Every step left its audit event, and the chain holds.
    actions = list((await db.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id))).all())
    await db.commit()
    for action in ("user.created", "user.email_verified", "organisation.created", "organisation.profile_updated",
                   "membership.added", "invitation.created", "invitation.accepted"):
        assert action in actions
    await seal_audit_log(db, clock.now())
    assert await verify_chain(db) is None
    await db.commit()


async def test_a_new_user_is_sent_to_confirm_their_address_before_the_supplier_portal(client, db, settings, smtp_server,
                                                                                      drain_outbox):
    await register(client, "cat@newco.example")
    response = await sign_in(client, "cat@newco.example")  # unconfirmed users may sign in
    assert response.status_code == 303

    for path in ("/supplier/organisation/new", "/supplier/organisation/new/check"):
        refused = await client.get(path)
        assert refused.status_code == 303
        assert refused.headers["location"] == "/verify-email/required"
    token = await csrf_token(client, "/verify-email/required")
    posted = await client.post("/supplier/organisation/new", data={**ORGANISATION_FORM, "_csrf_token": token})
    assert posted.headers["location"] == "/verify-email/required"
    assert await scalar(db, sa.select(sa.func.count()).select_from(Organisation)
                        .where(Organisation.companies_house_number == "SC123456")) == 0
    page = await client.get("/verify-email/required")
    assert "Confirm your email address" in page.text and "cat@newco.example" in page.text

    # Confirming the address (the link opened while signed in) opens the way.
    link = await email_link(drain_outbox, smtp_server, settings, "cat@newco.example", "/verify-email")
    confirmed = await client.get(link)
    assert "Set up your organisation" in confirmed.text
    assert (await client.get("/supplier/organisation/new")).status_code == 200

"""Supplier onboarding: register and verify the email address (registration), create the organisation and keep
its profile (organisation), invite colleagues (invitations); `accounts` holds what registration and invitations
share.

Each command is one transaction: the change, its audit event(s) and any email (an outbox row) commit together,
and the command ends with `session.commit()`. Links in emails are signed tokens (dps.identity.tokens).
"""

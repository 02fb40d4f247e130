"""What registration and invitations share: checking a new account's email address, name and password, and
telling people that a link from one of our emails cannot be used."""

from __future__ import annotations

import re
from urllib.parse import quote

from dps.errors import DomainError, ValidationFailed
from dps.forms import FormErrors
from dps.identity.profile import one_line
from dps.identity.rules import password_problem
from dps.identity.services import normalise_email

FULL_NAME_MAX_LENGTH = 200

# Things an address may not hold even though normalise_email lets them through: they would break an email header.
_UNSAFE_EMAIL_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f<>,;:\"()\[\]\\]")


class LinkUnusable(DomainError):
    """A link from one of our emails cannot be used; `reason` says why, `title` and the message say it to people.

    reason: invalid (malformed, tampered with, or for another purpose), expired, withdrawn (an invitation
    revoked by the organisation), accepted (an invitation used already), wrong_account (an invitation opened
    while signed in as someone else).
    """

    STATUS_CODES = {"invalid": 400, "expired": 410, "withdrawn": 410, "accepted": 409, "wrong_account": 403}

    def __init__(self, reason: str, title: str, message: str, *, token: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.title = title
        self.status_code = self.STATUS_CODES[reason]
        self.token = token  # set for an expired verification link: it may still ask for a new one


def clean_email_address(raw: str, field: str = "email") -> str:
    try:
        email = normalise_email(raw)
    except ValidationFailed as problem:
        raise ValidationFailed(str(problem), field=field) from None
    if _UNSAFE_EMAIL_CHARACTERS.search(email):
        raise ValidationFailed(
            "Enter an email address in the correct format, like name@example.nhs.uk", field=field
        )
    return email


def check_new_account(full_name: str, password: str, password_confirmation: str, errors: FormErrors, *,
                      email: str) -> str:
    """Adds a message per wrong field to `errors`; returns the cleaned full name. The password policy is
    dps.identity.rules.password_problem (length, deny list, not the person's own name or email address)."""
    name = one_line(full_name)
    if not name:
        errors.add("full_name", "Enter your full name")
    elif len(name) > FULL_NAME_MAX_LENGTH:
        errors.add("full_name", f"Your full name must be {FULL_NAME_MAX_LENGTH} characters or fewer")
    problem = password_problem(password, email=email, full_name=name)
    if problem is not None:
        errors.add("password", problem)
    if "password" not in errors and password_confirmation != password:
        errors.add("password_confirmation", "The passwords do not match")
    return name


def invalid_link() -> LinkUnusable:
    return LinkUnusable(
        "invalid", "This link is not valid",
        "The link may be incomplete or changed. Copy the whole link from the email, or ask for a new email.",
    )


def sign_in_path_for(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='')}"

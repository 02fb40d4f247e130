"""The rules of API keys and of the people who get them: pure functions, no I/O and no clock reads.

- A key's name says what it is for (1 to 120 characters, one line); its rate limit is a whole number of requests a
  minute from 1 to MAX_RATE_LIMIT, read with dps.forms.whole_number.
- An API consumer gives the name of their organisation (1 to 200 characters) and what they will use the data for
  (10 to 1,000 characters), which the authority reads beside each key.
- A consumer holds at most MAX_ACTIVE_KEYS keys at once (revoked keys do not count): enough for a key per system
  and environment, few enough that a leaked account cannot mint keys to dodge its rate limits.
- A key's requests are counted per London day (the "today" the consumer reads on their page).
"""

from __future__ import annotations

from datetime import date, datetime

from dps.dates import LONDON
from dps.forms import FormErrors, whole_number

KEY_NAME_MAX_LENGTH = 120
ORGANISATION_NAME_MAX_LENGTH = 200
PURPOSE_MIN_LENGTH = 10
PURPOSE_MAX_LENGTH = 1_000
DEFAULT_RATE_LIMIT = 600
MAX_RATE_LIMIT = 1_000_000
MAX_ACTIVE_KEYS = 5


def _one_line(text: str) -> str:
    return " ".join(text.split())


def key_name_problem(raw: str) -> tuple[str, str | None]:
    """The name cleaned (one line, spaces collapsed), and what is wrong with it (None when nothing is)."""
    name = _one_line(raw)
    if not name:
        return name, "Enter a name for the key, such as the system that will use it"
    if len(name) > KEY_NAME_MAX_LENGTH:
        return name, f"The key's name must be {KEY_NAME_MAX_LENGTH} characters or fewer"
    return name, None


def rate_limit_problem(raw: str | None) -> tuple[int | None, str | None]:
    """A rate limit typed into a form: the number, or None and the message to show beside the field."""
    if not (raw or "").strip():
        return None, "Enter the rate limit as a whole number of requests a minute"
    number = whole_number(raw, maximum=MAX_RATE_LIMIT)
    if number is None:
        return None, (f"Enter the rate limit as a whole number of requests a minute, from 1 to "
                      f"{MAX_RATE_LIMIT:,}")
    if number < 1:
        return None, "The rate limit must be at least 1 request a minute"
    return number, None


def may_create_key(active_keys: int) -> str | None:
    """Why a consumer holding `active_keys` unrevoked keys may not make another (None when they may)."""
    if active_keys >= MAX_ACTIVE_KEYS:
        return (f"You can have up to {MAX_ACTIVE_KEYS} keys at once. Revoke a key you no longer use, or rotate one "
                "to replace its secret, before you create another")
    return None


def consumer_details(organisation_name: str, purpose: str) -> tuple[str, str, FormErrors]:
    """The organisation's name (one line) and the purpose (trimmed; lines kept), and a message per wrong field."""
    errors = FormErrors()
    name = _one_line(organisation_name)
    text = purpose.strip()
    if not name:
        errors.add("organisation_name", "Enter the name of your organisation. If you work alone, enter your own name")
    elif len(name) > ORGANISATION_NAME_MAX_LENGTH:
        errors.add("organisation_name",
                   f"The organisation's name must be {ORGANISATION_NAME_MAX_LENGTH} characters or fewer")
    if not text:
        errors.add("purpose", "Tell us what you will use the API for")
    elif len(text) < PURPOSE_MIN_LENGTH:
        errors.add("purpose", f"Tell us a little more about what you will use the API for: "
                              f"at least {PURPOSE_MIN_LENGTH} characters")
    elif len(text) > PURPOSE_MAX_LENGTH:
        errors.add("purpose", f"What you will use the API for must be {PURPOSE_MAX_LENGTH:,} characters or fewer")
    return name, text, errors


def usage_day(now: datetime) -> date:
    """The day a request counts towards: the London calendar day it was received on."""
    return now.astimezone(LONDON).date()

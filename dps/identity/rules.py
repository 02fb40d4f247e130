"""Identity rules: Companies House numbers, NHS ODS codes and the SME test (RULES.md 4, 5); the password policy;
the sign-in lockout.

Pure functions: each either returns the normalised value or raises ValidationFailed naming the form field, or
returns a verdict (a message, a new state) for the caller to act on. No I/O, no clock: `now` is passed in.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise

from dps.errors import ValidationFailed
from dps.money import format_pence

# Company number prefixes documented by Companies House (Uniform Resource Identifiers customer guide),
# plus CE, CS and SG (in use on the register) and OE (Register of Overseas Entities, 2022).
# Pre-partition Northern Ireland companies ("R" + 7 digits) have their own pattern below.
COMPANIES_HOUSE_PREFIXES: dict[str, str] = {
    "AC": "Assurance company, England and Wales",
    "CE": "Charitable incorporated organisation, England and Wales",
    "CS": "Charitable incorporated organisation, Scotland",
    "EN": "European company (Societas Europaea), Northern Ireland",
    "ES": "European company (Societas Europaea), Scotland",
    "FC": "Overseas company",
    "GE": "European Economic Interest Grouping, England and Wales",
    "GN": "European Economic Interest Grouping, Northern Ireland",
    "GS": "European Economic Interest Grouping, Scotland",
    "IC": "Investment company with variable capital, England and Wales",
    "IP": "Industrial and provident society, England and Wales",
    "LP": "Limited partnership, England and Wales",
    "NA": "Assurance company, Northern Ireland",
    "NC": "Limited liability partnership, Northern Ireland",
    "NF": "Overseas company registered in Northern Ireland before 1 October 2009",
    "NI": "Company, Northern Ireland",
    "NL": "Limited partnership, Northern Ireland",
    "NO": "Credit union or industrial and provident society, Northern Ireland",
    "NP": "Industrial and provident society or credit union, Northern Ireland",
    "NR": "Royal charter company, Northern Ireland",
    "NV": "Investment company with variable capital, Northern Ireland",
    "NZ": "Unregistered company (Companies Act 2006 s.1043), Northern Ireland",
    "OC": "Limited liability partnership, England and Wales",
    "OE": "Overseas entity",
    "RC": "Royal charter company, England and Wales",
    "SA": "Assurance company, Scotland",
    "SC": "Company, Scotland",
    "SE": "European company (Societas Europaea), England and Wales",
    "SF": "Overseas company registered in Scotland before 1 October 2009",
    "SG": "Scottish qualifying partnership",
    "SI": "Investment company with variable capital, Scotland",
    "SL": "Limited partnership, Scotland",
    "SO": "Limited liability partnership, Scotland",
    "SP": "Industrial and provident society, Scotland",
    "SR": "Royal charter company, Scotland",
    "SZ": "Unregistered company (Companies Act 2006 s.1043), Scotland",
    "ZC": "Unregistered company (Companies Act 2006 s.1043), England and Wales",
}

# re.ASCII: \d would otherwise accept digits from other scripts, which Companies House never issues.
_COMPANIES_HOUSE_NUMBER = re.compile(r"\d{8}|(?P<prefix>[A-Z]{2})\d{6}|R\d{7}", re.ASCII)
_DIGITS_ONLY = re.compile(r"\d{1,8}", re.ASCII)
_COMPANIES_HOUSE_NUMBER_LENGTH = 8


def normalise_companies_house_number(raw: str) -> str:
    """The 8-character Companies House number: spaces removed, upper case, short numbers zero-padded."""
    number = "".join(raw.split()).upper()
    if not number:
        raise ValidationFailed("Enter a Companies House number", field="companies_house_number")
    if _DIGITS_ONLY.fullmatch(number):
        # People often drop the leading zeros of England and Wales numbers ("1234567" is 01234567).
        number = number.zfill(_COMPANIES_HOUSE_NUMBER_LENGTH)
    match = _COMPANIES_HOUSE_NUMBER.fullmatch(number)
    prefix = match.group("prefix") if match else None
    if match is None or (prefix is not None and prefix not in COMPANIES_HOUSE_PREFIXES):
        raise ValidationFailed(
            "Enter a Companies House number in the correct format, like 01234567 or SC123456",
            field="companies_house_number",
        )
    return number


class BuyerType(StrEnum):
    TRUST = "trust"
    ICB = "icb"
    NHSE_REGION = "nhse_region"


@dataclass(frozen=True)
class _OdsCodeShape:
    pattern: re.Pattern[str]
    error: str


_ODS_CODE_SHAPES: dict[BuyerType, _OdsCodeShape] = {
    BuyerType.ICB: _OdsCodeShape(
        re.compile(r"Q[A-Z0-9]{2}", re.ASCII),
        "An integrated care board's ODS code is 3 characters starting with Q, like QE1",
    ),
    BuyerType.TRUST: _OdsCodeShape(
        re.compile(r"R[A-Z0-9]{2}", re.ASCII),
        "An NHS trust's ODS code is 3 characters starting with R, like RJ1",
    ),
    BuyerType.NHSE_REGION: _OdsCodeShape(
        re.compile(r"Y[0-9]{2}", re.ASCII),
        "An NHS England region's ODS code is Y followed by 2 digits, like Y56",
    ),
}


def normalise_ods_code(raw: str, buyer_type: BuyerType | str) -> str:
    """The buyer's ODS code, upper case, checked against the shape its type of organisation uses."""
    try:
        shape = _ODS_CODE_SHAPES[BuyerType(buyer_type)]
    except ValueError:
        raise ValidationFailed("Select the type of NHS organisation", field="buyer_type") from None
    code = raw.strip().upper()
    if not code:
        raise ValidationFailed("Enter an ODS code", field="ods_code")
    if not shape.pattern.fullmatch(code):
        raise ValidationFailed(shape.error, field="ods_code")
    return code


# Procurement Act 2023 s.123: fewer than 250 staff, and turnover or balance sheet total within its limit.
SME_STAFF_LIMIT = 250  # strictly fewer than this
SME_TURNOVER_LIMIT_PENCE = 44_000_000 * 100  # at most £44m
SME_BALANCE_SHEET_LIMIT_PENCE = 38_000_000 * 100  # at most £38m
# Descriptive headcount bands (RULES.md 4): (exclusive upper bound, band); anything bigger is "large".
_BANDS_BY_HEADCOUNT: tuple[tuple[int, str], ...] = (
    (10, "micro"),
    (50, "small"),
    (SME_STAFF_LIMIT, "medium"),
)
LARGE_BAND = "large"
SIZE_BANDS: tuple[str, ...] = (*(band for _, band in _BANDS_BY_HEADCOUNT), LARGE_BAND)


@dataclass(frozen=True)
class SmeAssessment:
    """The outcome of the SME test.

    `size_band` describes headcount only (micro < 10, small < 50, medium < 250, else large), so a
    20-person firm that fails both money tests is "small" yet not an SME; `is_sme` is the whole s.123 test
    and is what counts for reporting; `reason` says which thresholds were met or failed.
    """

    is_sme: bool
    size_band: str
    reason: str


def _size_band(headcount: int) -> str:
    return next((band for limit, band in _BANDS_BY_HEADCOUNT if headcount < limit), LARGE_BAND)


def assess_sme(headcount: int, turnover_pence: int, balance_sheet_pence: int) -> SmeAssessment:
    """Apply the Procurement Act 2023 s.123 SME test; money is in whole pence."""
    for value, field, message in (
        (headcount, "headcount", "The number of staff must be 0 or more"),
        (turnover_pence, "turnover", "Turnover must be £0 or more"),
        (balance_sheet_pence, "balance_sheet_total", "Balance sheet total must be £0 or more"),
    ):
        if value < 0:
            raise ValidationFailed(message, field=field)

    band = _size_band(headcount)
    if headcount >= SME_STAFF_LIMIT:
        return SmeAssessment(False, band, f"Not an SME: {headcount} staff is not fewer than {SME_STAFF_LIMIT}")

    turnover_ok = turnover_pence <= SME_TURNOVER_LIMIT_PENCE
    balance_sheet_ok = balance_sheet_pence <= SME_BALANCE_SHEET_LIMIT_PENCE
    turnover_text = f"turnover {format_pence(turnover_pence)} is {'at most' if turnover_ok else 'over'} £44m"
    balance_sheet_text = (
        f"balance sheet total {format_pence(balance_sheet_pence)} is {'at most' if balance_sheet_ok else 'over'} £38m"
    )
    staff_text = f"{headcount} staff is fewer than {SME_STAFF_LIMIT}"
    if turnover_ok or balance_sheet_ok:
        return SmeAssessment(True, band, f"An SME: {staff_text}, {turnover_text} and {balance_sheet_text}")
    return SmeAssessment(False, band, f"Not an SME: {staff_text}, but {turnover_text} and {balance_sheet_text}")


# ---------------------------------------------------------------------------------------------------------------
# Password policy (NCSC password guidance; NIST SP 800-63B 3.1.1.2): a minimum length and no maximum that a
# passphrase would reach, no composition rules, and a deny list of passwords known from breaches, of predictable
# ones, and of the person's own name and email address. Applied wherever a password is set.

MINIMUM_PASSWORD_LENGTH = 12
MAXIMUM_PASSWORD_LENGTH = 1024  # argon2 copes with more; a limit stops megabyte "passwords" costing CPU

PASSWORD_MISSING = "Enter a password"
PASSWORD_TOO_SHORT = f"Your password must be {MINIMUM_PASSWORD_LENGTH} characters or more"
PASSWORD_TOO_LONG = f"Your password must be {MAXIMUM_PASSWORD_LENGTH} characters or fewer"
PASSWORD_IS_PERSONAL = "Enter a password that is not your name or email address"
PASSWORD_IS_COMMON = ("Enter a password that is harder to guess. Do not use a common password, like "
                      "‘password2026’, or a sequence, like ‘123456789012’")

# People pad a common password to reach a length rule ("Password2026!", "qwerty123456"), join words with
# separators, and swap letters for look-alikes ("p@ssw0rd"): the deny list is checked against each such reading.
_SEPARATORS = re.compile(r"[\s\-_.]+")
_PADDING = re.compile(r"^[\W\d_]+|[\W\d_]+$")
_LOOK_ALIKES = (str.maketrans({"@": "a", "4": "a", "0": "o", "3": "e", "$": "s", "5": "s", "7": "t", "1": "i",
                               "!": "i", "8": "b", "9": "g"}),
                str.maketrans({"@": "a", "4": "a", "0": "o", "3": "e", "$": "s", "5": "s", "7": "t", "1": "l",
                               "!": "l", "8": "b", "9": "g"}))
_SHORTEST_LISTED_CORE = 4  # "abc" inside "abc!9k2m7x4q" is a coincidence, "dragon" inside "dragon123456" is not
# Words of this service a guesser would try first.
_SERVICE_WORDS = frozenset({"nhs", "nhsdps", "nhsinnovation", "nhsinnovationdps", "innovationdps", "dps",
                            "dynamicpurchasingsystem"})


def _fold(text: str) -> str:
    """Compatibility-normalised, case-folded, separators removed: 'Pass Word' and 'pass-word' read 'password'."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).casefold())


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The deny list: the 30,000 most common passwords of a corpus of 10 million from public breaches, as the
    zxcvbn package (MIT) ships them, folded as a password is folded before comparison."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(_fold(word) for word in FREQUENCY_LISTS["passwords"]) - {""}


def _readings(folded: str) -> set[str]:
    """The password as typed (folded), without padding, and with look-alike characters read as letters."""
    readings = {folded}
    core = _PADDING.sub("", folded)
    if len(core) >= _SHORTEST_LISTED_CORE:
        readings.add(core)
        readings.update(core.translate(table) for table in _LOOK_ALIKES)
    readings.update(folded.translate(table) for table in _LOOK_ALIKES)
    return readings | {unit for reading in readings if (unit := _repeated_unit(reading)) is not None}


def _repeated_unit(text: str) -> str | None:
    """'passwordpassword' -> 'password': the shortest unit the whole text repeats, if it repeats one."""
    for length in range(1, len(text) // 2 + 1):
        if len(text) % length == 0 and text[:length] * (len(text) // length) == text:
            return text[:length]
    return None


def _is_run(text: str) -> bool:
    """One character repeated, or a straight run up or down ('123456789012', 'abcdefghijkl', 'zyxwvuts')."""
    if len(text) < 2:
        return True
    steps = set()
    for previous, current in pairwise(text):
        step = ord(current) - ord(previous)
        if previous.isdigit() and current.isdigit():
            step = (step + 1) % 10 - 1  # 9 -> 0 continues a run up, 0 -> 9 a run down
        steps.add(step)
    return len(steps) == 1 and steps <= {-1, 0, 1}


def is_common_password(password: str) -> bool:
    """True for a password on the deny list, or one of them padded with digits or symbols, joined with separators,
    spelt with look-alike characters or repeated, or a run like '111111111111' or '123456789012'."""
    folded = _fold(password)
    if _is_run(folded) or (len(set(folded)) <= 2):
        return True
    listed = common_passwords() | _SERVICE_WORDS
    return any(reading in listed for reading in _readings(folded))


def _personal_words(email: str, full_name: str) -> set[str]:
    address = _fold(email)
    local = address.partition("@")[0]
    name_parts = [_fold(part) for part in re.split(r"[\s\-'.]+", full_name) if part]
    words = {address, local, _fold(full_name), *(part for part in name_parts if len(part) >= _SHORTEST_LISTED_CORE)}
    words.update(_fold(part) for part in re.split(r"[.\-_+]", local) if len(part) >= _SHORTEST_LISTED_CORE)
    return words - {""}


def password_problem(password: str, *, email: str = "", full_name: str = "") -> str | None:
    """What is wrong with a new password, as the message to show beside the field; None if it may be used.

    Checked in this order: given at all, long enough, not absurdly long, not the person's own name or email
    address (with or without padding), not on the deny list (see is_common_password). Nothing else: no rules
    about mixing character classes, which make passwords harder to remember and no harder to guess.
    """
    if not password:
        return PASSWORD_MISSING
    if len(password) < MINIMUM_PASSWORD_LENGTH:
        return PASSWORD_TOO_SHORT
    if len(password) > MAXIMUM_PASSWORD_LENGTH:
        return PASSWORD_TOO_LONG
    personal = _personal_words(email, full_name)
    if personal and _readings(_fold(password)) & personal:
        return PASSWORD_IS_PERSONAL
    if is_common_password(password):
        return PASSWORD_IS_COMMON
    return None


def check_new_password(password: str, *, email: str = "", full_name: str = "") -> None:
    """Raise ValidationFailed (field "password") for a password that may not be set."""
    problem = password_problem(password, email=email, full_name=full_name)
    if problem is not None:
        raise ValidationFailed(problem, field="password")


# ---------------------------------------------------------------------------------------------------------------
# Sign-in lockout (NCSC: throttle or lock after repeated failures; OWASP Authentication Cheat Sheet). Failures are
# counted per email address as typed (normalised), whether or not an account has it, so the lockout says nothing
# about which addresses have accounts. After `failures_allowed` consecutive failures the address is locked until
# `lock_for` has passed; attempts while locked are refused without being counted (so nobody can keep an account
# locked for ever by hammering it, only re-lock it after the period, at the client rate limit's pace); a success
# clears the count.


@dataclass(frozen=True)
class LockoutPolicy:
    failures_allowed: int = 5
    lock_for: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.failures_allowed < 1:
            raise ValueError("failures_allowed must be 1 or more")
        if self.lock_for <= timedelta(0):
            raise ValueError("lock_for must be a positive period")


@dataclass(frozen=True)
class SignInAttempts:
    """The consecutive failed sign-ins for one email address and, when locked, until when."""

    failures: int = 0
    locked_until: datetime | None = None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


def sign_in_key(email: str) -> str:
    """Whose attempts these are: the email address as sign-in looks it up (trimmed, lower case)."""
    return email.strip().lower()


def after_failure(attempts: SignInAttempts, now: datetime, policy: LockoutPolicy) -> SignInAttempts:
    """The count after a wrong password (or an unknown address) at `now`. While locked nothing changes; once a lock
    has run out, counting starts again from this failure."""
    if attempts.locked_at(now):
        return attempts
    failures = 1 if attempts.locked_until is not None else attempts.failures + 1
    if failures >= policy.failures_allowed:
        return SignInAttempts(failures=failures, locked_until=now + policy.lock_for)
    return SignInAttempts(failures=failures, locked_until=None)


def after_success(attempts: SignInAttempts) -> SignInAttempts:
    """A successful sign-in (only possible when not locked) clears the count."""
    return replace(attempts, failures=0, locked_until=None)


def locks_now(before: SignInAttempts, after: SignInAttempts, now: datetime) -> bool:
    """True when this failure is the one that locked the address."""
    return after.locked_at(now) and not before.locked_at(now)


# ---------------------------------------------------------------------------------------------------------------
# Password reset (NCSC password guidance; OWASP Forgot Password Cheat Sheet): a random single-use token sent by
# email, kept only as a hash, that works for one hour; the reply is the same whether or not the address has an
# account; a reset ends every session of the account.

PASSWORD_RESET_LIFETIME = timedelta(hours=1)
PASSWORD_RESETS_PER_HOUR = 3  # links sent to one account in an hour: more are not sent (the reply is the same)


def reset_token_hash(token: str) -> str:
    """What is stored of a reset token: its SHA-256, so a copy of the database cannot reset anyone's password."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def reset_link_problem(*, expires_at: datetime, used_at: datetime | None, now: datetime) -> str | None:
    """Why a reset link can no longer be used ("used" or "expired"), or None while it can."""
    if used_at is not None:
        return "used"
    if now >= expires_at:
        return "expired"
    return None


def may_send_reset(sent_in_last_hour: int) -> bool:
    return sent_in_last_hour < PASSWORD_RESETS_PER_HOUR

"""Settings read from the environment, with working defaults for the embedded mode.

A bad value stops start-up with one line naming the variable (SettingsError).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dps.forms import whole_number

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"

SEARCH_BACKENDS = ("embedded", "meilisearch")
ENVIRONMENTS = ("development", "test", "production")
OUTBOX_WORKERS = ("inprocess", "external", "off")
# Only used when nothing is set and we are not in production: a fixed key keeps local sessions valid across restarts.
_DEVELOPMENT_SECRET = "development-only-secret-key-change-me-0123456789"
# The same for sealed bids (C5): fixed, public keys, so refused in production; the tests (DPS_ENV=test) have their own.
DEVELOPMENT_BID_SEALING_KEY = base64.b64encode(b"development-only-bid-sealing-key").decode()
TEST_BID_SEALING_KEY = base64.b64encode(b"test-suite-only-bid-sealing-key!").decode()


class SettingsError(ValueError):
    """One environment variable holds a value we cannot use."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


@dataclass(frozen=True)
class Settings:
    environment: str
    database_url: str
    secret_key: str
    search_backend: str
    meilisearch_url: str | None
    meilisearch_api_key: str | None
    stripe_api_base: str
    stripe_secret_key: str | None
    stripe_webhook_secret: str | None
    smtp_url: str
    mail_from: str
    redis_url: str | None
    base_url: str
    ocid_prefix: str
    login_rate_limit_per_minute: int
    sign_in_lockout_failures: int
    sign_in_lockout_minutes: int
    outbox_worker: str
    var_dir: Path
    # 32 bytes that seal bids at rest until their deadline (dps.crypto); kept out of reprs and logs.
    bid_sealing_key: bytes = field(repr=False)
    # Where award notices are also sent as OCDS release packages (a notice platform); none: served by the API only.
    ocds_publication_url: str | None = None
    # Addresses (or networks) of the reverse proxies whose X-Forwarded-For and -Proto we believe; none by default,
    # so no client can choose the address that the sign-in rate limit counts.
    trusted_proxies: tuple[str, ...] = ()
    # Open data read without an API key: requests a minute for each client address (a key raises it).
    anonymous_api_rate_limit_per_minute: int = 60
    # Whether email goes out over SMTP. In development it does only when SMTP_URL is set: every email is kept in
    # the local mailbox anyway (var/mail/, shown at /dev/mail), so the demo needs no mail server.
    smtp_enabled: bool = True
    # The outbox: a message that failed this many times becomes a dead letter (kept, shown to the authority).
    outbox_max_attempts: int = 10
    # How long a worker holds the messages it claimed; a worker that dies leaves them to be retried after it.
    outbox_lease_seconds: int = 300
    # Whether a changed template file is read again: in development, so an edit shows at once; elsewhere every
    # render would otherwise stat each template and macro file it uses.
    template_auto_reload: bool = False

    @property
    def mailbox_dir(self) -> Path | None:
        """Where every email is also saved as an .eml file, in development only."""
        return self.var_dir / "mail" if self.environment == "development" else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def search_index_dir(self) -> Path:
        """Where the embedded search engine keeps its index (SEARCH_BACKEND=embedded)."""
        return self.var_dir / "search"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        environment = _choice(env, "DPS_ENV", "development", ENVIRONMENTS)
        var_dir = Path(env.get("DPS_VAR_DIR") or VAR_DIR)
        secret_key = env.get("SECRET_KEY") or ""
        if not secret_key:
            if environment == "production":
                raise SettingsError("SECRET_KEY", "must be set in production (at least 32 characters)")
            secret_key = _DEVELOPMENT_SECRET
        if len(secret_key) < 32:
            raise SettingsError("SECRET_KEY", "must be at least 32 characters long")
        search_backend = _choice(env, "SEARCH_BACKEND", "embedded", SEARCH_BACKENDS)
        meilisearch_url = _optional_url(env, "MEILISEARCH_URL", ("http", "https"))
        if search_backend == "meilisearch" and not meilisearch_url:
            raise SettingsError("MEILISEARCH_URL", "must be set when SEARCH_BACKEND=meilisearch")
        bid_sealing_key = _bid_sealing_key(env, environment)
        stripe_secret_key = env.get("STRIPE_SECRET_KEY") or None
        if stripe_secret_key and not stripe_secret_key.startswith(("sk_test_", "sk_live_", "rk_")):
            raise SettingsError("STRIPE_SECRET_KEY", "must look like sk_test_... or sk_live_...")
        return cls(
            environment=environment,
            database_url=normalise_database_url(env.get("DATABASE_URL") or f"sqlite:///{var_dir / 'dps.db'}"),
            secret_key=secret_key,
            search_backend=search_backend,
            meilisearch_url=meilisearch_url,
            meilisearch_api_key=env.get("MEILISEARCH_API_KEY") or None,
            stripe_api_base=_optional_url(env, "STRIPE_API_BASE", ("http", "https")) or "https://api.stripe.com",
            stripe_secret_key=stripe_secret_key,
            stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
            smtp_url=_optional_url(env, "SMTP_URL", ("smtp", "smtps")) or "smtp://127.0.0.1:1025",
            mail_from=env.get("MAIL_FROM") or "NHS Innovation DPS <no-reply@dps.example.nhs.uk>",
            redis_url=_optional_url(env, "REDIS_URL", ("redis", "rediss")),
            base_url=(_optional_url(env, "BASE_URL", ("http", "https")) or "http://127.0.0.1:8000").rstrip("/"),
            ocid_prefix=_ocds_prefix(env, environment),
            login_rate_limit_per_minute=_positive_int(env, "LOGIN_RATE_LIMIT_PER_MINUTE", 10),
            sign_in_lockout_failures=_positive_int(env, "SIGN_IN_LOCKOUT_FAILURES", 5),
            sign_in_lockout_minutes=_positive_int(env, "SIGN_IN_LOCKOUT_MINUTES", 15),
            # Tests drain the outbox themselves, deterministically; elsewhere the app drains it unless told not to.
            outbox_worker=_choice(env, "OUTBOX_WORKER", "off" if environment == "test" else "inprocess",
                                  OUTBOX_WORKERS),
            var_dir=var_dir,
            bid_sealing_key=bid_sealing_key,
            ocds_publication_url=_optional_url(env, "OCDS_PUBLICATION_URL", ("http", "https")),
            trusted_proxies=_addresses(env, "TRUSTED_PROXIES"),
            anonymous_api_rate_limit_per_minute=_positive_int(env, "ANONYMOUS_API_RATE_LIMIT_PER_MINUTE", 60),
            smtp_enabled=environment != "development" or bool(env.get("SMTP_URL")),
            outbox_max_attempts=_positive_int(env, "OUTBOX_MAX_ATTEMPTS", 10),
            outbox_lease_seconds=_positive_int(env, "OUTBOX_LEASE_SECONDS", 300),
            template_auto_reload=_choice(env, "TEMPLATE_AUTO_RELOAD",
                                         "true" if environment == "development" else "false", ("true", "false"))
            == "true",
        )


DEVELOPMENT_OCDS_PREFIX = "ocds-dpsnhs"
_OCDS_PREFIX = re.compile(r"ocds-[a-z0-9]{6}")


def _ocds_prefix(env: Mapping[str, str], environment: str) -> str:
    """The OCID prefix registered with the Open Contracting Partnership ("ocds-" and six characters). The built-in
    one is for development and tests only: published data must carry the publisher's own."""
    value = (env.get("OCDS_PREFIX") or "").strip()
    if not value:
        if environment == "production":
            raise SettingsError("OCDS_PREFIX", "must be set in production: register an OCID prefix with the Open "
                                               "Contracting Partnership")
        return DEVELOPMENT_OCDS_PREFIX
    if not _OCDS_PREFIX.fullmatch(value):
        raise SettingsError("OCDS_PREFIX", f"{value!r} is not an OCID prefix like ocds-a1b2c3")
    if environment == "production" and value == DEVELOPMENT_OCDS_PREFIX:
        raise SettingsError("OCDS_PREFIX", "is the development prefix: set the one registered for this service")
    return value


def _addresses(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of IP addresses or networks, each checked."""
    values = tuple(part.strip() for part in (env.get(name) or "").split(",") if part.strip())
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise SettingsError(name, f"{value!r} is not an IP address or network") from None
    return values


def normalise_database_url(url: str) -> str:
    """Accept plain sqlite:/// and postgresql:// URLs and name the async driver we use."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    raise SettingsError("DATABASE_URL", f"unsupported scheme {scheme or url!r}: use sqlite:/// or postgresql://")


def _bid_sealing_key(env: Mapping[str, str], environment: str) -> bytes:
    text = env.get("BID_SEALING_KEY") or ""
    if not text:
        if environment == "production":
            raise SettingsError("BID_SEALING_KEY", "must be set in production (32 random bytes, base64-encoded)")
        text = TEST_BID_SEALING_KEY if environment == "test" else DEVELOPMENT_BID_SEALING_KEY
    elif environment == "production" and text.strip() in (DEVELOPMENT_BID_SEALING_KEY, TEST_BID_SEALING_KEY):
        raise SettingsError("BID_SEALING_KEY", "is a public key of this code: set a secret one in production")
    cleaned = text.strip()
    try:  # the standard or the URL-safe alphabet, padded or not
        key = base64.b64decode(cleaned.replace("-", "+").replace("_", "/") + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError("BID_SEALING_KEY", "is not base64: give 32 random bytes, base64-encoded") from None
    if len(key) != 32:
        raise SettingsError("BID_SEALING_KEY", f"decodes to {len(key)} bytes, not 32: give 32 random bytes, "
                            "base64-encoded")
    return key


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in choices:
        raise SettingsError(name, f"{value!r} is not one of {', '.join(choices)}")
    return value


def _optional_url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = env.get(name) or None
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise SettingsError(name, f"{value!r} is not a {'/'.join(schemes)} URL with a host")
    try:
        parts.port  # noqa: B018 - raises on a non-numeric port
    except ValueError:
        raise SettingsError(name, f"{value!r} has an invalid port") from None
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    number = whole_number(raw, maximum=2**63 - 1)
    if number is None or number < 1:
        raise SettingsError(name, f"{raw!r} is not a positive whole number")
    return number

"""Settings: working defaults, and a bad value stops start-up with one line naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dps.settings import Settings, SettingsError


def test_embedded_defaults_work_without_any_environment(tmp_path):
    settings = Settings.from_env({"DPS_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'dps.db'}"
    assert settings.search_backend == "embedded"
    assert settings.smtp_url.startswith("smtp://")
    assert not settings.secure_cookies


def test_postgres_urls_get_the_async_driver():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u@db:5432/dps"})
    assert settings.database_url == "postgresql+asyncpg://u@db:5432/dps"
    assert not settings.is_sqlite


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://root@localhost/dps"),
        ("SECRET_KEY", "too-short"),
        ("SEARCH_BACKEND", "elasticsearch"),
        ("MEILISEARCH_URL", "not a url"),
        ("STRIPE_API_BASE", "ftp://stripe.example"),
        ("STRIPE_SECRET_KEY", "pk_test_publishable"),
        ("SMTP_URL", "http://mail.example"),
        ("REDIS_URL", "redis://localhost:notaport"),
        ("DPS_ENV", "staging"),
        ("LOGIN_RATE_LIMIT_PER_MINUTE", "0"),
        ("BASE_URL", "example.org"),
    ],
)
def test_a_bad_value_names_its_variable(name, value):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})
    assert raised.value.name == name
    assert str(raised.value).startswith(f"{name}: ")


def test_meilisearch_backend_needs_its_url():
    with pytest.raises(SettingsError, match="^MEILISEARCH_URL: "):
        Settings.from_env({"SEARCH_BACKEND": "meilisearch"})


def test_production_refuses_to_start_without_a_secret_key():
    with pytest.raises(SettingsError, match="^SECRET_KEY: "):
        Settings.from_env({"DPS_ENV": "production"})


def test_https_base_url_turns_on_secure_cookies():
    assert Settings.from_env({"BASE_URL": "https://dps.example.nhs.uk"}).secure_cookies


def test_the_cli_stops_with_one_clear_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "mysql://x/y", "DPS_VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "dps.cli", "db", "upgrade"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: DATABASE_URL: unsupported scheme 'mysql': use sqlite:/// or postgresql://"
    ]

"""Settings: working defaults, and a bad value stops start-up with one line naming it."""

from __future__ import annotations

import base64
import os
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
        ("BID_SEALING_KEY", "not base64!"),
        ("BID_SEALING_KEY", "c2hvcnQ="),  # base64, but 5 bytes
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


def test_production_refuses_to_start_without_a_secret_bid_sealing_key():
    secret = "x" * 40
    with pytest.raises(SettingsError, match="^BID_SEALING_KEY: must be set in production"):
        Settings.from_env({"DPS_ENV": "production", "SECRET_KEY": secret})
    for public in (Settings.from_env({}), Settings.from_env({"DPS_ENV": "test"})):  # development, test
        encoded = base64.b64encode(public.bid_sealing_key).decode()
        with pytest.raises(SettingsError, match="^BID_SEALING_KEY: is a public key"):
            Settings.from_env({"DPS_ENV": "production", "SECRET_KEY": secret, "BID_SEALING_KEY": encoded})
    key = os.urandom(32)
    for text in (base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode().rstrip("=")):
        settings = Settings.from_env({"DPS_ENV": "production", "SECRET_KEY": secret, "BID_SEALING_KEY": text,
                                      "OCDS_PREFIX": "ocds-a1b2c3"})
        assert settings.bid_sealing_key == key
        assert text not in repr(settings) and repr(key) not in repr(settings)


def test_production_publishes_only_under_its_own_registered_ocid_prefix():
    secrets = {"DPS_ENV": "production", "SECRET_KEY": "x" * 40,
               "BID_SEALING_KEY": base64.b64encode(os.urandom(32)).decode()}
    with pytest.raises(SettingsError, match="^OCDS_PREFIX: must be set in production"):
        Settings.from_env(secrets)
    with pytest.raises(SettingsError, match="^OCDS_PREFIX: is the development prefix"):
        Settings.from_env({**secrets, "OCDS_PREFIX": "ocds-dpsnhs"})
    with pytest.raises(SettingsError, match="^OCDS_PREFIX: 'dpsnhs' is not an OCID prefix"):
        Settings.from_env({**secrets, "OCDS_PREFIX": "dpsnhs"})
    assert Settings.from_env({**secrets, "OCDS_PREFIX": "ocds-a1b2c3"}).ocid_prefix == "ocds-a1b2c3"
    assert Settings.from_env({}).ocid_prefix == "ocds-dpsnhs"  # development only


def test_development_and_tests_seal_with_different_fixed_keys():
    development, test = Settings.from_env({}), Settings.from_env({"DPS_ENV": "test"})
    assert len(development.bid_sealing_key) == len(test.bid_sealing_key) == 32
    assert development.bid_sealing_key != test.bid_sealing_key
    assert Settings.from_env({}).bid_sealing_key == development.bid_sealing_key  # stable across restarts


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


def test_the_cli_in_production_names_the_missing_bid_sealing_key(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DPS_ENV": "production", "SECRET_KEY": "s" * 40, "DPS_VAR_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "dps.cli", "db", "upgrade"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: BID_SEALING_KEY: must be set in production (32 random bytes, base64-encoded)"
    ]


def test_templates_are_read_again_when_edited_only_in_development(tmp_path):
    base = {"DPS_VAR_DIR": str(tmp_path)}
    assert Settings.from_env({**base, "DPS_ENV": "development"}).template_auto_reload is True
    assert Settings.from_env({**base, "DPS_ENV": "test"}).template_auto_reload is False
    assert Settings.from_env({**base, "DPS_ENV": "development", "TEMPLATE_AUTO_RELOAD": "false"}).template_auto_reload \
        is False
    with pytest.raises(SettingsError, match="^TEMPLATE_AUTO_RELOAD: "):
        Settings.from_env({**base, "TEMPLATE_AUTO_RELOAD": "yes"})


def test_the_app_builds_its_templates_with_the_setting(tmp_path, monkeypatch):
    from dps import app as app_module
    from dps.web.templating import build_environment

    built: list[bool] = []

    def recording(auto_reload: bool = True):
        built.append(auto_reload)
        return build_environment(auto_reload=auto_reload)

    monkeypatch.setattr(app_module, "build_environment", recording)
    for reload in ("true", "false"):
        app_module.create_app(Settings.from_env({"DPS_VAR_DIR": str(tmp_path), "DPS_ENV": "test",
                                                 "TEMPLATE_AUTO_RELOAD": reload}))
    assert built == [True, False]
    assert build_environment(auto_reload=False).auto_reload is False

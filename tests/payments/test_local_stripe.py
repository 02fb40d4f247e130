"""`dps serve` in development makes payments work with nothing configured: it starts localstripe on a free port
(or uses the one at STRIPE_API_BASE), registers our webhook with it and points the app at it with a test key; it
stops the localstripe it started. Outside development, or with a real key, nothing is started."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from dps.payments.local_stripe import LOCAL_SECRET_KEY, LOCAL_WEBHOOK_SECRET, development_stripe
from dps.settings import Settings
from tests.helpers import pick_free_port
from tests.payments.conftest import LOCALSTRIPE
from tests.test_cli import DPS


def _development(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"DPS_ENV": "development", "DPS_VAR_DIR": str(tmp_path), **env})


def _listening(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def test_in_development_it_starts_localstripe_registers_the_webhook_and_stops_it(tmp_path):
    if not LOCALSTRIPE.exists():
        pytest.skip("localstripe is not installed")
    stripe = development_stripe(_development(tmp_path), {}, webhook_url="http://127.0.0.1:9/webhooks/stripe")
    assert stripe is not None and stripe.process is not None
    try:
        assert stripe.environment == {"STRIPE_API_BASE": stripe.api_base, "STRIPE_SECRET_KEY": LOCAL_SECRET_KEY,
                                      "STRIPE_WEBHOOK_SECRET": LOCAL_WEBHOOK_SECRET}
        answer = httpx.get(f"{stripe.api_base}/v1/customers", auth=(LOCAL_SECRET_KEY, ""), timeout=10)
        assert answer.status_code == 200 and answer.json()["object"] == "list"
        assert (tmp_path / "localstripe" / "localstripe.log").exists()
    finally:
        stripe.stop()
    assert stripe.process.poll() is not None and not _listening(stripe.api_base)


def test_one_already_at_stripe_api_base_is_used_and_left_running(tmp_path, localstripe):
    stripe = development_stripe(_development(tmp_path, STRIPE_API_BASE=localstripe),
                                {"STRIPE_API_BASE": localstripe}, webhook_url="http://127.0.0.1:9/webhooks/stripe")
    assert stripe is not None and stripe.process is None and stripe.api_base == localstripe
    stripe.stop()
    assert _listening(localstripe)


def test_nothing_is_started_with_a_real_key_or_outside_development(tmp_path):
    assert development_stripe(_development(tmp_path, STRIPE_SECRET_KEY="sk_live_real"), {},
                              webhook_url="http://x/webhooks/stripe") is None
    production = Settings.from_env({"DPS_ENV": "production", "OCDS_PREFIX": "ocds-a1b2c3", "DPS_VAR_DIR": str(tmp_path),
                                    "SECRET_KEY": "s" * 40, "BID_SEALING_KEY": "A" * 43 + "="})
    assert development_stripe(production, {}, webhook_url="http://x/webhooks/stripe") is None


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["stopped", "killed"])
def test_dps_serve_in_development_runs_with_a_local_stripe_and_stops_it_on_exit(tmp_path, stop):
    if not LOCALSTRIPE.exists():
        pytest.skip("localstripe is not installed")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("STRIPE_", "DATABASE_URL", "BASE_URL", "DPS_", "SMTP_URL"))}
    env.update({"DPS_ENV": "development", "DPS_VAR_DIR": str(tmp_path), "COLUMNS": "400",
                "OUTBOX_WORKER": "off", "PYTHONUNBUFFERED": "1"})
    assert subprocess.run([DPS, "db", "upgrade"], env=env, capture_output=True, timeout=120).returncode == 0
    port = pick_free_port()
    server = subprocess.Popen([DPS, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    stripe_base = None
    try:
        assert server.stdout is not None
        for line in server.stdout:  # the start-up lines come before uvicorn's
            found = re.search(r"local Stripe stand-in \(test mode\) at (http://127\.0\.0\.1:\d+)", line)
            if found:
                stripe_base = found.group(1)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        assert stripe_base is not None
        assert httpx.get(f"{stripe_base}/v1/customers", auth=(LOCAL_SECRET_KEY, ""), timeout=10).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
    finally:
        server.send_signal(stop)  # a kill -9 runs none of its clean-up: the stand-in must still go
        server.wait(timeout=30)
    deadline = time.monotonic() + 10
    while stripe_base and _listening(stripe_base) and time.monotonic() < deadline:
        time.sleep(0.1)  # a child process shutting down: real time
    assert stripe_base and not _listening(stripe_base)

"""A local Stripe stand-in for development, so payments work end to end on `make run` as the database and search do.

`dps serve` in development, when no Stripe secret key is set, calls `development_stripe`: it uses the localstripe
already at STRIPE_API_BASE if one is given, or starts localstripe (a PyPI package, installed with the dev extras) on
a free port as a child process; then it registers our webhook endpoint with it (so a payment confirmed there sends
its signed `payment_intent.succeeded` back to us) and returns the settings the app needs: the API base, a test key
and the webhook secret. In production nothing is started: a real Stripe is configured, or payments are refused.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from dps.settings import Settings

logger = logging.getLogger("dps.payments.local_stripe")

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent ends
LOCAL_SECRET_KEY = "sk_test_local_development"
LOCAL_WEBHOOK_SECRET = "whsec_local_development_only"
WEBHOOK_NAME = "dps"


class LocalStripeUnavailable(RuntimeError):
    """localstripe could not be started or reached: payments stay off, and the pages say so."""


@dataclass
class LocalStripe:
    """A running (or found) localstripe and the environment that points the app at it."""

    api_base: str
    process: subprocess.Popen[bytes] | None = None
    environment: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop the localstripe we started (one found at STRIPE_API_BASE is left alone)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> LocalStripe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def localstripe_command() -> str | None:
    """The localstripe executable of this Python environment (or on PATH)."""
    beside = Path(sys.executable).with_name("localstripe")
    if beside.exists():
        return str(beside)
    return shutil.which("localstripe")


def wait_until_listening(port: int, process: subprocess.Popen[bytes] | None = None, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LocalStripeUnavailable(f"localstripe stopped at start-up (exit code {process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # a child process starting up: real time, outside any test clock
    raise LocalStripeUnavailable(f"localstripe did not listen on port {port} within {timeout:.0f} seconds")


def _stop_with_parent() -> None:
    """Run in the child before localstripe starts: on Linux it is sent SIGTERM when the process that started it ends,
    however that ends (a `kill -9` of `dps serve` included), so no stand-in is left behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_localstripe(log_dir: Path, port: int | None = None) -> LocalStripe:
    command = localstripe_command()
    if command is None:
        raise LocalStripeUnavailable("localstripe is not installed: run `make install` (it comes with the dev extras)")
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "localstripe.log").open("ab") as log:
        process = subprocess.Popen([command, "--port", str(port), "--from-scratch"], stdout=log,
                                   stderr=subprocess.STDOUT, cwd=str(log_dir),
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=_stop_with_parent)
    try:
        wait_until_listening(port, process)
    except LocalStripeUnavailable:
        process.kill()
        process.wait(timeout=10)
        raise
    return LocalStripe(api_base=f"http://127.0.0.1:{port}", process=process)


def register_webhook(api_base: str, webhook_url: str, secret: str) -> None:
    """Ask localstripe to send its signed events to our endpoint (its own configuration API, not Stripe's)."""
    try:
        response = httpx.post(f"{api_base}/_config/webhooks/{WEBHOOK_NAME}",
                              data={"url": webhook_url, "secret": secret}, timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise LocalStripeUnavailable(f"localstripe at {api_base} did not take the webhook: {error}") from None


def development_stripe(settings: Settings, environ: Mapping[str, str], *, webhook_url: str,
                       log_dir: Path | None = None) -> LocalStripe | None:
    """The local Stripe stand-in for `dps serve`, or None when it is not wanted: outside development, or when a
    Stripe secret key is configured (then that Stripe is used as it is)."""
    if settings.environment != "development" or settings.stripe_secret_key:
        return None
    given = environ.get("STRIPE_API_BASE")
    if given:  # one already running, for example `localstripe --port 8420` in another terminal
        stripe = LocalStripe(api_base=given.rstrip("/"))
    else:
        stripe = start_localstripe(log_dir or settings.var_dir / "localstripe")
    try:
        register_webhook(stripe.api_base, webhook_url, LOCAL_WEBHOOK_SECRET)
    except LocalStripeUnavailable:
        stripe.stop()
        raise
    stripe.environment = {"STRIPE_API_BASE": stripe.api_base, "STRIPE_SECRET_KEY": LOCAL_SECRET_KEY,
                          "STRIPE_WEBHOOK_SECRET": LOCAL_WEBHOOK_SECRET}
    return stripe


def is_test_mode(settings: Settings) -> bool:
    """Payments can be completed from our own pages ("Pay now (test mode)"): a Stripe test key, never production."""
    return settings.environment != "production" and bool(
        settings.stripe_secret_key and settings.stripe_secret_key.startswith("sk_test_"))

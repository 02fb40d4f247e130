"""localstripe (a stateful fake Stripe) as a subprocess on a free port, reset before each test that uses it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import pick_free_port

LOCALSTRIPE = Path(sys.executable).with_name("localstripe")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stripe(**environment): the Stripe settings of the test's app")


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"localstripe did not listen on port {port} within {timeout} s")


@pytest.fixture(scope="session")
def localstripe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a localstripe started for this test run; killed at teardown."""
    if not LOCALSTRIPE.exists():
        pytest.skip("localstripe is not installed (pip install -e '.[dev]')")
    port = pick_free_port()
    log = (tmp_path_factory.mktemp("localstripe") / "localstripe.log").open("wb")
    process = subprocess.Popen([str(LOCALSTRIPE), "--port", str(port), "--from-scratch"], stdout=log,
                               stderr=subprocess.STDOUT, cwd=str(tmp_path_factory.mktemp("localstripe-cwd")),
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
async def localstripe(localstripe_server: str) -> AsyncIterator[str]:
    """localstripe emptied of customers, payments and webhooks."""
    async with httpx.AsyncClient(base_url=localstripe_server) as http:
        (await http.delete("/_config/data")).raise_for_status()
    yield localstripe_server


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp_port: int) -> Any:
    """The app's settings with Stripe configured (the API base is unused unless a test drains the outbox)."""
    from dps.settings import Settings
    from tests.payments.support import WEBHOOK_SECRET

    return Settings.from_env({"DPS_ENV": "test", "DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path),
                              "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "STRIPE_SECRET_KEY": "sk_test_local",
                              "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": "http://127.0.0.1:9"})

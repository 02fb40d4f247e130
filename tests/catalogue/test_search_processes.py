"""The two-process shape: `dps serve` with OUTBOX_WORKER=external answers searches (two server processes, each
opening the index as a reader), `dps worker` beside it applies the outbox's index changes as the index's one
writer, and the servers' readers see them without a restart."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.catalogue.support import published_listing, signed_in_supplier
from tests.catalogue.test_api import api_key, bearer
from tests.test_cli import DPS

STARTUP_SECONDS = 180  # a bound for a busy machine (two server processes import the app), not a wait


@contextmanager
def dps_process(*args: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([DPS, *args], env={**os.environ, "DPS_ENV": "test", **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def search(http: httpx.AsyncClient, secret: str, text: str) -> list[int]:
    response = await http.get("/api/v1/innovations", params={"q": text}, headers=bearer(secret))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


async def test_the_server_finds_what_the_separate_worker_indexes(client, db, passwords, clock, settings, free_port):
    await signed_in_supplier(client, db, passwords, clock)
    listing_id = await published_listing(client, db)  # its index change waits in the outbox
    secret = await api_key(db, clock)
    env = {"DATABASE_URL": settings.database_url, "DPS_VAR_DIR": str(settings.var_dir),
           "OUTBOX_WORKER": "external", "SMTP_URL": "smtp://127.0.0.1:9"}
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port}", timeout=10) as http:
        with dps_process("serve", "--port", str(free_port), "--workers", "2", env=env) as server:
            deadline = loop.time() + STARTUP_SECONDS
            while True:
                assert server.poll() is None, "dps serve exited"
                try:
                    before = await search(http, secret, "wearable")
                    break
                except httpx.TransportError:
                    assert loop.time() < deadline, "dps serve did not answer"
                    await asyncio.sleep(0.1)
            assert before == []  # the server drains nothing itself

            with dps_process("worker", env=env) as worker:
                deadline = loop.time() + STARTUP_SECONDS
                while (found := await search(http, secret, "wearable")) != [listing_id]:
                    assert worker.poll() is None, "dps worker exited"
                    assert loop.time() < deadline, f"the server never found the listing: {found}"
                    await asyncio.sleep(0.1)
                for _ in range(20):  # whichever server process answers
                    assert await search(http, secret, "wearable") == [listing_id]

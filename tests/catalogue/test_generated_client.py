"""Proof by a client nobody here wrote: openapi-python-client generates a Python client from /api/openapi.json,
and that client, unchanged, searches with facets, follows `next` across two pages of changes, reads one innovation,
reads an OCDS record and handles a 429. The test fails the day the document stops producing a working client."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

from tests.catalogue.test_api import api_key, catalogue
from tests.transparency.support import awarded_competition

PACKAGE = "dps_api_client"


def generate_client(document: str, folder: Path) -> None:
    (folder / "openapi.json").write_text(document)
    tools = str(Path(sys.executable).parent)  # the generator and the ruff it formats with
    result = subprocess.run(
        [str(Path(tools) / "openapi-python-client"), "generate", "--path", str(folder / "openapi.json"),
         "--meta", "none", "--output-path", str(folder / PACKAGE)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PATH": tools + os.pathsep + os.environ["PATH"]})
    assert result.returncode == 0, result.stdout + result.stderr
    assert (folder / PACKAGE / "client.py").exists(), result.stdout


async def test_a_client_generated_from_the_openapi_document_works(client, db, passwords, clock, settings,
                                                                  drain_outbox, tmp_path, monkeypatch):
    ids = await catalogue(client, db, passwords, clock, drain_outbox)
    _, competition_id = await awarded_competition(db, passwords, clock, vat=18_000_00)
    generate_client((await client.get("/api/openapi.json")).text, tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    generated = importlib.import_module(PACKAGE)
    search = importlib.import_module(f"{PACKAGE}.api.innovations.search_innovations")
    one = importlib.import_module(f"{PACKAGE}.api.innovations.get_innovation")
    changes = importlib.import_module(f"{PACKAGE}.api.changes.list_changes")
    record = importlib.import_module(f"{PACKAGE}.api.ocds.get_ocds_record")

    def generated_client(secret: str):
        """The generated client, sending through the test's own HTTP client (the app on its one event loop)."""
        api = generated.AuthenticatedClient(base_url="http://testserver.local", token=secret)
        client.headers["Authorization"] = f"Bearer {secret}"
        return api.set_async_httpx_client(client)

    api = generated_client(await api_key(db, clock, limit=1000))

    found = await search.asyncio(client=api, q="ecg", category=["wearables-home-diagnostics"])
    assert [item.id for item in found.data] == [ids["zio"]]
    assert found.meta.facets.additional_properties  # facet counts came through the model

    first = await changes.asyncio(client=api, limit=2)
    second = await changes.asyncio(client=api, since=first.meta.next_, limit=2)
    assert first.meta.has_more and [c.id for c in first.data + second.data] == [ids["zio"], ids["ward"],
                                                                                ids["kidney"]]

    innovation = await one.asyncio(client=api, innovation_id=str(ids["ward"]))
    assert innovation.data.name == "Doccla virtual ward"

    ocds = await record.asyncio_detailed(client=api, ocid=f"{settings.ocid_prefix}-{competition_id}")
    assert ocds.status_code == 200 and b'"records"' in ocds.content

    limited = generated_client(await api_key(db, clock, limit=1))
    assert (await search.asyncio_detailed(client=limited)).status_code == 200
    refused = await search.asyncio_detailed(client=limited)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert refused.parsed is not None and refused.parsed.status == 429  # the problem JSON, as a model

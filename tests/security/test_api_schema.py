"""Property-based tests of the /api/v1 API against its own OpenAPI document (schemathesis).

For every operation under /api/ schemathesis generates requests from the document (valid values and edge cases:
long strings, odd characters, boundary numbers), sends them with a valid API key to the real application in
process, and again with no key (the open data operations answer anyone), and checks each answer: never a server
error, the status code is one the document lists, the content type is the one it names, and the body matches the
declared schema. The database holds published innovations (one withdrawn, so the changes feed has every kind of
change), an awarded contract and its OCDS bulk file, so the answers are not all empty.
Runs on SQLite and PostgreSQL.

The document is read from /api/openapi.json of an app built at import (collection needs the operations); the
requests go to an app over the seeded database of the backend under test, passed to each call.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from litestar import Litestar
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catalogue import services as catalogue_services
from catalogue.search import forget_search_index_now
from dps.api_keys import services as api_key_services
from dps.app import create_app
from dps.audit.services import Actor
from dps.clock import FixedClock
from dps.db import make_sessionmaker
from dps.identity.passwords import Passwords
from dps.identity.services import load_signed_in_user
from dps.settings import Settings
from dps.transparency.bulk import rebuild_bulk_files
from tests.catalogue.support import form_data
from tests.conftest import drain_outbox_now, reset_database
from tests.factories import category_id, make_admitted_supplier
from tests.transparency.support import awarded_competition

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _document_app() -> Litestar:
    """An app that only serves its OpenAPI document (it never opens its database)."""
    directory = Path(tempfile.mkdtemp(prefix="openapi-"))
    return create_app(Settings.from_env({"DPS_ENV": "test", "DPS_VAR_DIR": str(directory),
                                         "DATABASE_URL": f"sqlite:///{directory / 'unused.db'}"}))


schema = schemathesis.openapi.from_asgi("/api/openapi.json", _document_app()).include(path_regex="^/api/")


@dataclass(frozen=True)
class SeededApi:
    app: Litestar
    headers: dict[str, str]


async def _publish(db: Any, clock: FixedClock, user_id: int, organisation_id: int, overrides: dict[str, Any],
                   slug: str = "wearables-home-diagnostics") -> int:
    person = await load_signed_in_user(db, user_id)
    saved = await catalogue_services.create_listing(db, person, organisation_id,
                                                    form_data(overrides, await category_id(db, slug)), clock.now())
    assert saved.listing is not None, saved.form
    await catalogue_services.publish_listing(db, person, saved.listing.id or 0, clock.now())
    return saved.listing.id or 0


@pytest.fixture(scope="module")
async def seeded_api(migrated_database, session_engine, tmp_path_factory) -> AsyncIterator[SeededApi]:
    """Built once per backend for every operation's test (each would otherwise pay for the same catalogue)."""
    clock = FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    await reset_database(session_engine, clock.now())
    app_settings = Settings.from_env({"DPS_ENV": "test", "DATABASE_URL": migrated_database,
                                      "DPS_VAR_DIR": str(tmp_path_factory.mktemp("api-schema")),
                                      "SMTP_URL": "smtp://127.0.0.1:9",  # emails are not the point here
                                      "ANONYMOUS_API_RATE_LIMIT_PER_MINUTE": "1000000"})
    passwords = Passwords.for_environment("test")
    async with make_sessionmaker(session_engine)() as db:
        acme, ann = await make_admitted_supplier(db, passwords, clock,
                                                 categories=("wearables-home-diagnostics", "virtual-wards"))
        await _publish(db, clock, ann.id, acme.id, {})
        ward = await _publish(db, clock, ann.id, acme.id, {
            "name": "Doccla virtual ward", "summary": "Remote monitoring of patients at home after discharge.",
            "care_settings": ["home", "acute"], "icbs_using": "QWE", "nice__mtfm": "no", "dtac__applies": "no"},
            slug="virtual-wards")
        sutures, sam = await make_admitted_supplier(db, passwords, clock, email="sam@sutures.example",
                                                    name="Plus Sutures Ltd", number="22223333")
        await _publish(db, clock, sam.id, sutures.id, {
            "name": "Minuteful kidney home test", "summary": "A smartphone urine test for chronic kidney disease.",
            "care_settings": ["home"], "icbs_using": "", "nice__esf_tier": "c",
            "medical_device__device_class": "ivd_self_test"})
        await catalogue_services.withdraw_listing(db, await load_signed_in_user(db, ann.id), ward, clock.now())
        await awarded_competition(db, passwords, clock)
        _, secret = await api_key_services.create_api_key(db, name="Schema tests", actor=Actor.system("test"),
                                                            now=clock.now(), rate_limit_per_minute=1_000_000)
        await db.commit()
    await drain_outbox_now(app_settings, clock)
    assert await rebuild_bulk_files(make_sessionmaker(session_engine), app_settings, clock.now()) == 1
    forget_search_index_now(app_settings)  # schemathesis runs the app on its own event loop: a fresh adapter there
    yield SeededApi(create_app(app_settings, clock=clock), {"Authorization": f"Bearer {secret}"})
    asgi.shutdown_lifespans()
    forget_search_index_now(app_settings)


@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_the_api_answers_as_its_openapi_document_says(case, seeded_api):
    response = case.call_and_validate(app=seeded_api.app, headers=dict(seeded_api.headers), checks=CHECKS)
    # Some generated cases leave the key out on purpose (a 401 is then right); every other one must get past it.
    if response.request.headers.get("Authorization") == seeded_api.headers["Authorization"]:
        assert response.status_code != 401, f"the API key was refused: {response.text}"
    assert response.status_code != 429, "the key's rate limit was reached: later cases tested nothing"


@schema.parametrize()
@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_the_api_answers_anyone_without_a_key_as_its_openapi_document_says(case, seeded_api):
    response = case.call_and_validate(app=seeded_api.app, checks=CHECKS)
    if "Authorization" not in response.request.headers:  # else a key schemathesis made up: a 401 is then right
        assert response.status_code != 401, f"open data was refused without a key: {response.text}"
    assert response.status_code != 429, "the anonymous rate limit was reached: later cases tested nothing"


def test_the_seeded_data_reaches_the_api(seeded_api):
    """The property test above is only worth something if the answers carry data: check that they do."""
    with asgi.get_client(seeded_api.app) as client:
        search = client.get("/api/v1/innovations", headers=seeded_api.headers)
        changes = client.get("/api/v1/changes", headers=seeded_api.headers)
        register = client.get("/api/v1/contracts-register", headers=seeded_api.headers)
        releases = client.get("/api/v1/ocds/releases", headers=seeded_api.headers)
        bulk_files = client.get("/api/v1/ocds/bulk")
        bulk_file = client.get("/api/v1/ocds/bulk/2026.jsonl.gz")
    assert search.status_code == 200, search.text
    assert {item["name"] for item in search.json()["data"]} == {"Zio wearable ECG patch",
                                                                 "Minuteful kidney home test"}
    assert {change["type"] for change in changes.json()["data"]} >= {"published", "withdrawn"}
    assert register.json()["meta"]["total"] == 1
    assert releases.json()["releases"]
    assert [f["year"] for f in bulk_files.json()["data"]] == [2026]
    assert bulk_file.status_code == 200 and bulk_file.content.startswith(b"\x1f\x8b")  # gzip

"""The public search API contract: /api/v1/innovations, /innovations/{id}, /changes; keys, rate limit, problem JSON."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dps.api_keys.models import ApiKey
from dps.api_keys.services import create_api_key
from dps.audit.services import Actor
from dps.identity.models import Role
from tests.catalogue.support import published_listing, signed_in_supplier
from tests.factories import make_authority_user
from tests.helpers import post_form, scalar, sign_in


async def api_key(db, clock, limit: int = 600) -> str:
    _, secret = await create_api_key(db, name="ICS portal", actor=Actor.system("test"), now=clock.now(),
                                     rate_limit_per_minute=limit)
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def catalogue(client, db, passwords, clock, drain_outbox) -> dict[str, int]:
    """Three published innovations from two suppliers, indexed."""
    await signed_in_supplier(client, db, passwords, clock, categories=("wearables-home-diagnostics", "virtual-wards"))
    zio = await published_listing(client, db)
    ward = await published_listing(client, db, {
        "name": "Doccla virtual ward", "summary": "Remote monitoring of patients at home after discharge.",
        "care_settings": ["home", "acute"], "icbs_using": "QWE", "nice__mtfm": "no", "dtac__applies": "no"},
        slug="virtual-wards")
    draft_response = await post_form(client, "/supplier/listings", {}, form_page="/supplier/listings/new")
    assert draft_response.status_code == 400
    client.cookies.clear()
    await signed_in_supplier(client, db, passwords, clock, email="sam@sutures.example", name="Plus Sutures Ltd",
                             number="22223333", categories=("wearables-home-diagnostics",))
    home_test = await published_listing(client, db, {
        "name": "Minuteful kidney home test", "summary": "A smartphone urine test for chronic kidney disease.",
        "care_settings": ["home"], "icbs_using": "", "nice__esf_tier": "c",
        "medical_device__device_class": "ivd_self_test"})
    client.cookies.clear()
    await drain_outbox()
    return {"zio": zio, "ward": ward, "kidney": home_test}


async def test_open_data_needs_no_key_but_a_bad_key_is_401_problem_json(client, db, clock):
    missing = await client.get("/api/v1/innovations")
    assert missing.status_code == 200
    assert missing.headers["ratelimit-limit"] == "60"  # the anonymous limit, per address
    bad = await client.get("/api/v1/innovations", headers=bearer("dpsk_not-a-real-key"))
    basic = await client.get("/api/v1/innovations", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    for response in (bad, basic):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == 401 and body["title"] and body["detail"] and body["type"].endswith("unauthorised")
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_search_returns_data_and_meta_with_facets(client, db, passwords, clock, settings, drain_outbox):
    ids = await catalogue(client, db, passwords, clock, drain_outbox)
    secret = await api_key(db, clock)

    response = await client.get("/api/v1/innovations", params={"q": "wearble"}, headers=bearer(secret))

    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["data"]] == [ids["zio"]]
    item = body["data"][0]
    assert item["name"] == "Zio wearable ECG patch"
    assert item["category"] == {"slug": "wearables-home-diagnostics", "name": "Wearables and home diagnostics"}
    assert item["supplier"]["name"] == "Acme Health Ltd" and item["supplier"]["sme"] is False
    assert item["assurance"]["dtac"]["complete"] is True and item["assurance"]["mtfm"] is True
    assert item["url"] == f"{settings.base_url}/catalogue/innovations/{ids['zio']}"
    assert body["meta"]["total"] == 1 and body["meta"]["page"] == 1 and body["meta"]["page_size"] == 20
    assert body["meta"]["facets"]["category"] == {"wearables-home-diagnostics": 1}

    browse = (await client.get("/api/v1/innovations", headers=bearer(secret))).json()
    assert browse["meta"]["total"] == 3
    assert browse["meta"]["facets"]["category"] == {"wearables-home-diagnostics": 2, "virtual-wards": 1}
    assert browse["meta"]["facets"]["care_setting"] == {"home": 3, "primary-care": 1, "acute": 1}


async def test_filters_are_or_within_a_name_and_and_across_names(client, db, passwords, clock, drain_outbox):
    ids = await catalogue(client, db, passwords, clock, drain_outbox)
    secret = await api_key(db, clock)

    async def found(params) -> list[int]:
        response = await client.get("/api/v1/innovations", params=params, headers=bearer(secret))
        assert response.status_code == 200, response.text
        return sorted(item["id"] for item in response.json()["data"])

    assert await found([("care_setting", "acute"), ("care_setting", "primary-care")]) == sorted([ids["zio"],
                                                                                                 ids["ward"]])
    assert await found([("care_setting", "home"), ("mtfm", "true")]) == [ids["zio"], ids["kidney"]]
    assert await found([("icb", "qmf")]) == [ids["zio"]]
    assert await found([("icb", "QWE")]) == sorted([ids["zio"], ids["ward"]])
    assert await found([("esf_tier", "C"), ("category", "wearables-home-diagnostics")]) == [ids["kidney"]]
    assert await found([("device_class", "ivd_self_test"), ("dtac", "false")]) == []
    assert await found([("dtac", "false")]) == [ids["ward"]]
    page = (await client.get("/api/v1/innovations", params={"sort": "name", "page": 2, "page_size": 2},
                             headers=bearer(secret))).json()
    assert [item["name"] for item in page["data"]] == ["Zio wearable ECG patch"]
    assert page["meta"]["total"] == 3


async def test_bad_parameters_are_400_naming_the_parameter(client, db, clock):
    secret = await api_key(db, clock)
    cases = {
        "page_size": {"page_size": "1000"}, "sort": {"sort": "x"}, "page": {"page": "0"},
        "sme": {"sme": "maybe"}, "esf_tier": {"esf_tier": "z"}, "care_setting": {"care_setting": "moon"},
        "icb": {"icb": "London"}, "colour": {"colour": "red"},
    }
    for name, params in cases.items():
        response = await client.get("/api/v1/innovations", params=params, headers=bearer(secret))
        assert response.status_code == 400, (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == 400 and name in body["detail"], (name, body)
        assert [p["name"] for p in body["invalid_params"]] == [name]
    changes = await client.get("/api/v1/changes", params={"since": "abc"}, headers=bearer(secret))
    assert changes.status_code == 400 and "since" in changes.json()["detail"]
    limit = await client.get("/api/v1/changes", params={"limit": "5000"}, headers=bearer(secret))
    assert limit.status_code == 400 and "limit" in limit.json()["detail"]


async def test_one_innovation_and_404_for_unknown_or_unpublished(client, db, passwords, clock, drain_outbox):
    ids = await catalogue(client, db, passwords, clock, drain_outbox)
    secret = await api_key(db, clock)

    one = await client.get(f"/api/v1/innovations/{ids['ward']}", headers=bearer(secret))
    assert one.status_code == 200 and one.json()["data"]["name"] == "Doccla virtual ward"
    for path in ("/api/v1/innovations/999999", "/api/v1/innovations/abc", "/api/v1/nothing-here"):
        response = await client.get(path, headers=bearer(secret))
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 404


@pytest.mark.parametrize("path", ["/api/v1/innovations", "/api/v1/innovations/1", "/api/v1/changes",
                                  "/api/v1/ocds/releases", "/api/v1/ocds/records/ocds-dpsnhs-1",
                                  "/api/v1/contracts-register"])
async def test_without_a_key_open_data_answers_at_a_lower_limit_per_address(settings, db, clock, tmp_path, path):
    from litestar.testing import AsyncTestClient

    from dps.app import create_app
    from dps.settings import Settings

    app = create_app(Settings.from_env({"DPS_ENV": "test", "DATABASE_URL": settings.database_url,
                                        "DPS_VAR_DIR": str(tmp_path), "ANONYMOUS_API_RATE_LIMIT_PER_MINUTE": "2"}),
                     clock=clock)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as anonymous:
        answers = [await anonymous.get(path) for _ in range(3)]
        assert [a.status_code for a in answers][:2] != [401, 401]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
        refused = answers[2]
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert int(refused.headers["retry-after"]) in range(1, 61)
        secret = await api_key(db, clock, limit=10)
        keyed = await anonymous.get(path, headers=bearer(secret))  # a key raises the limit
        assert keyed.status_code != 429 and keyed.headers["ratelimit-limit"] == "10"


async def test_rate_limit_answers_429_with_retry_after_per_key(client, db, clock):
    limited = await api_key(db, clock, limit=3)
    other = await api_key(db, clock, limit=3)
    statuses = [(await client.get("/api/v1/innovations", headers=bearer(limited))).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = await client.get("/api/v1/innovations", headers=bearer(limited))
    assert int(refused.headers["retry-after"]) in range(1, 61)
    assert refused.json()["status"] == 429
    assert (await client.get("/api/v1/innovations", headers=bearer(other))).status_code == 200  # per key
    from datetime import timedelta

    clock.advance(timedelta(seconds=int(refused.headers["retry-after"])))
    assert (await client.get("/api/v1/innovations", headers=bearer(limited))).status_code == 200


async def test_changes_feed_in_commit_order_with_a_cursor(client, db, passwords, clock, drain_outbox):
    ids = await catalogue(client, db, passwords, clock, drain_outbox)
    secret = await api_key(db, clock)
    first = (await client.get("/api/v1/changes", params={"limit": 2}, headers=bearer(secret))).json()
    assert [(c["type"], c["id"]) for c in first["data"]] == [("published", ids["zio"]), ("published", ids["ward"])]
    assert first["meta"]["has_more"] is True
    rest = (await client.get("/api/v1/changes", params={"since": first["meta"]["next"]}, headers=bearer(secret))).json()
    assert [(c["type"], c["id"]) for c in rest["data"]] == [("published", ids["kidney"])]
    assert rest["data"][0]["innovation"]["name"] == "Minuteful kidney home test"

    await sign_in(client, "sam@sutures.example")
    await post_form(client, f"/supplier/listings/{ids['kidney']}/withdraw", {},
                    form_page=f"/supplier/listings/{ids['kidney']}")
    later = (await client.get("/api/v1/changes", params={"since": rest["meta"]["next"]}, headers=bearer(secret))).json()
    assert [(c["type"], c["id"], c["innovation"]) for c in later["data"]] == [("withdrawn", ids["kidney"], None)]
    assert int(later["data"][0]["revision"]) > int(rest["data"][0]["revision"])
    quiet = (await client.get("/api/v1/changes", params={"since": later["meta"]["next"]},
                              headers=bearer(secret))).json()
    assert quiet["data"] == [] and quiet["meta"]["next"] == later["meta"]["next"]
    # A cursor past any id there can be has nothing after it (schemathesis found it overflowing PostgreSQL's integer).
    beyond = await client.get("/api/v1/changes", params={"since": "479036810147"})
    assert beyond.status_code == 200 and beyond.json()["data"] == [] and beyond.json()["meta"]["next"] == "479036810147"


async def test_keys_are_created_once_stored_hashed_and_revocable_in_the_ui(client, db, passwords, clock):
    await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, "ada@authority.example")
    created = await post_form(client, "/authority/api-keys", {"name": "North East London ICS portal",
                                                              "rate_limit": "600"},
                              form_page="/authority/api-keys")
    assert created.status_code == 200
    import re

    secret = re.search(r'<code id="new-api-key">([^<]+)</code>', created.text).group(1)
    key = await scalar(db, sa.select(ApiKey))
    assert secret not in (key.key_hash, key.prefix) and secret.startswith(key.prefix)
    assert secret not in (await client.get("/authority/api-keys")).text  # shown once
    assert (await client.get("/api/v1/innovations", headers=bearer(secret))).status_code == 200

    revoked = await post_form(client, f"/authority/api-keys/{key.id}/revoke", {}, form_page="/authority/api-keys")
    assert revoked.status_code == 303
    assert (await client.get("/api/v1/innovations", headers=bearer(secret))).status_code == 401
    told = await client.get(revoked.headers["location"])
    assert "The key for North East London ICS portal has been revoked" in told.text
    for other in ("", "?revoked=abc", f"?revoked={key.id + 1}"):  # nothing revoked there: nothing said
        assert "has been revoked" not in (await client.get("/authority/api-keys" + other)).text


async def test_the_openapi_document_describes_the_api_with_examples(client):
    schema = (await client.get("/api/openapi.json")).json()
    search = schema["paths"]["/api/v1/innovations"]["get"]
    names = {p["name"] for p in search["parameters"]}
    assert {"q", "category", "care_setting", "device_class", "esf_tier", "icb", "sme", "dtac", "mtfm", "sort", "page",
            "page_size"} <= names
    assert {"200", "400", "401", "429"} <= set(search["responses"])
    assert search["responses"]["200"]["content"]["application/json"]["examples"]
    assert "/api/v1/changes" in schema["paths"] and "/api/v1/innovations/{innovation_id}" in schema["paths"]
    assert schema["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"

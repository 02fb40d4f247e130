"""Search benchmark on a generated catalogue (see bench/generate.py): reindex time, then the same query mix timed
at the engine (the adapter call the API makes) and over HTTP (GET /api/v1/innovations on a uvicorn worker on
127.0.0.1), printing p50/p95/p99 for each.

    .venv/bin/python -m bench.generate --listings 100000 --var-dir var/bench
    .venv/bin/python -m bench.search_bench --var-dir var/bench --queries 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from catalogue.search.port import FACET_FIELDS, SearchQuery

SEED = 7
BROAD = ("monitoring", "patients", "digital", "remote", "home", "clinicians", "app", "care", "dashboard", "evidence")
SPECIFIC = ("wearable ecg patch", "sepsis early warning", "diabetic foot scanner", "heart failure telemonitoring",
            "retinal screening", "drone sample delivery", "catheter securement", "pulse oximetry app home",
            "surgical site infection sutures", "chest x-ray triage")
TYPOS = ("wearble", "monitring", "telemonitring", "diabetik", "oximetry apps", "sepssi")
CATEGORIES = ("virtual-wards", "wearables-home-diagnostics", "ai-diagnostics", "imaging", "surgical-infection-prevention",
              "logistics", "digital-mental-health", "population-health-analytics", "digital-therapeutics")
CARE = ("acute", "primary-care", "community", "home", "mental-health")


@dataclass(frozen=True)
class Case:
    kind: str
    params: list[tuple[str, str]]

    def query(self) -> SearchQuery:
        filters: dict[str, tuple[str, ...]] = {}
        text, sort, page = "", "relevance", 1
        for name, value in self.params:
            if name == "q":
                text = value
            elif name == "sort":
                sort = value
            elif name == "page":
                page = int(value)
            else:
                filters[name] = (*filters.get(name, ()), value)
        return SearchQuery(text=text, filters=filters, facets=FACET_FIELDS, sort=sort, page=page, page_size=20,
                           highlight=False)


def query_mix(count: int) -> list[Case]:
    """A fixed mix: 30% broad one-word, 25% specific multi-word (with some typos), 25% filtered, 20% browse."""
    rng = random.Random(SEED)
    cases = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.30:
            cases.append(Case("broad", [("q", rng.choice(BROAD))]))
        elif roll < 0.55:
            cases.append(Case("specific", [("q", rng.choice(SPECIFIC + TYPOS))]))
        elif roll < 0.80:
            params = [("q", rng.choice(BROAD + SPECIFIC)), ("category", rng.choice(CATEGORIES))]
            if rng.random() < 0.5:
                params += [("care_setting", rng.choice(CARE)), ("care_setting", rng.choice(CARE))]
            if rng.random() < 0.3:
                params.append(("dtac", "true"))
            cases.append(Case("filtered", params))
        else:
            params = [("sort", rng.choice(("relevance", "newest", "name")))]
            if rng.random() < 0.5:
                params.append(("category", rng.choice(CATEGORIES)))
            if rng.random() < 0.3:
                params.append(("page", str(rng.randint(2, 5))))
            cases.append(Case("browse", params))
    return cases


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda p: ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]  # noqa: E731
    return {"p50": pick(50), "p95": pick(95), "p99": pick(99), "mean": statistics.fmean(ordered), "n": len(ordered)}


def report(title: str, by_kind: dict[str, list[float]]) -> dict[str, float]:
    print(f"\n{title} (milliseconds)")
    print(f"  {'query kind':<10} {'n':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'mean':>8}")
    everything: list[float] = []
    for kind in ("broad", "specific", "filtered", "browse"):
        samples = by_kind.get(kind, [])
        if samples:
            everything += samples
            p = percentiles(samples)
            print(f"  {kind:<10} {p['n']:>6} {p['p50']:>8.2f} {p['p95']:>8.2f} {p['p99']:>8.2f} {p['mean']:>8.2f}")
    total = percentiles(everything)
    print(f"  {'all':<10} {total['n']:>6} {total['p50']:>8.2f} {total['p95']:>8.2f} {total['p99']:>8.2f} "
          f"{total['mean']:>8.2f}")
    return total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def main_async(arguments: argparse.Namespace) -> None:
    if arguments.no_cache:
        os.environ["SEARCH_RESULT_CACHE"] = "off"
    from catalogue.reindex import rebuild_search_index
    from catalogue.search import forget_search_index, search_index_for
    from catalogue.services import create_api_key
    from dps.audit.services import Actor
    from dps.db import make_engine, make_sessionmaker
    from dps.settings import Settings

    var_dir = arguments.var_dir.resolve()
    env = {"DPS_VAR_DIR": str(var_dir), "DPS_ENV": "development", "OUTBOX_WORKER": "off"}
    settings = Settings.from_env(env)
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    if not arguments.skip_reindex:
        started = time.perf_counter()
        indexed = await rebuild_search_index(settings, now)
        print(f"Reindex: {indexed:,} listings in {time.perf_counter() - started:.1f} s "
              f"(embedded index: {var_dir / 'search'})")

    engine = make_engine(settings.database_url)
    async with make_sessionmaker(engine)() as session:
        _, secret = await create_api_key(session, name="benchmark", actor=Actor.system("bench"), now=now,
                                         rate_limit_per_minute=10**9)
    await engine.dispose()

    cases = query_mix(arguments.queries)
    index = search_index_for(settings)
    for case in cases[: arguments.warmup]:
        await index.search(case.query())
    engine_times: dict[str, list[float]] = {}
    for case in cases:
        query = case.query()
        started = time.perf_counter()
        await index.search(query)
        engine_times.setdefault(case.kind, []).append((time.perf_counter() - started) * 1000)
    await forget_search_index(settings)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "dps.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log", *(["--loop", "uvloop"] if arguments.uvloop else [])],
        env={**os.environ, **env})
    http_times: dict[str, list[float]] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {secret}"},
                          timeout=30) as client:
            for _ in range(100):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            for case in cases[: arguments.warmup]:
                client.get("/api/v1/innovations", params=case.params).raise_for_status()
            for case in cases:
                started = time.perf_counter()
                response = client.get("/api/v1/innovations", params=case.params)
                http_times.setdefault(case.kind, []).append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
    finally:
        server.terminate()
        server.wait(timeout=30)

    engine_total = report("Engine: EmbeddedSearchIndex.search()", engine_times)
    http_total = report("HTTP: GET /api/v1/innovations (one uvicorn worker, keep-alive client)", http_times)
    print(f"\nResult cache: {'off' if arguments.no_cache else 'on'}")
    print(f"HTTP over engine: p50 +{(http_total['p50'] / engine_total['p50'] - 1) * 100:.0f}%, "
          f"mean +{(http_total['mean'] / engine_total['mean'] - 1) * 100:.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--skip-reindex", action="store_true")
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--no-cache", action="store_true", help="turn the embedded engine's result cache off")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

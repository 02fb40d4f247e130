"""Run the benchmarks: generate the data, then index, search, pages, memory and awards, each printing a table.

    .venv/bin/python -m bench                                  # the `make bench` size (under 10 minutes on 2 cores)
    .venv/bin/python -m bench --listings 100000 --suppliers 5000
    .venv/bin/python -m bench --only search --only pages --reuse

Results are written to <work dir>/results/last.json; the run before is kept as previous.json and the figures that
moved are printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import awards, index, memory, pages, rush, search
from bench.ceiling_app import API_PING_PATH, PING_PATH
from bench.database import DEFAULT_POSTGRES_URL, Target, database_size
from bench.generate import DEFAULT_AS_OF, Sizes, add_size_arguments, generate, print_summary, target_from
from bench.index import index_bytes
from bench.load import ceiling_server, product_server, run_wrk, wrk_available
from bench.report import Machine, Section, compare_with, console, print_section, save_run, sqlite_version

BENCHMARKS = ("index", "search", "pages", "memory", "awards", "rush")
# These make their own PostgreSQL database: they need none of the generated catalogue.
OWN_DATA = ("awards", "rush")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_size_arguments(parser, listings=20_000, suppliers=1_000, competitions=20)
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only these (repeatable)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the data in the work directory if it was generated with the same sizes and seed")
    parser.add_argument("--queries", type=int, default=2000, help="queries in the search mix (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=10, help="length of each HTTP load run (default %(default)s)")
    parser.add_argument("--connections", type=int, default=16,
                        help="connections for the throughput runs (default %(default)s)")
    parser.add_argument("--changes", type=int, default=1000,
                        help="index changes for the outbox catch-up (default %(default)s)")
    parser.add_argument("--awards", type=int, default=40, help="concurrent award confirmations (default %(default)s)")
    parser.add_argument("--award-processes", type=int, default=None,
                        help="processes confirming awards, as `dps serve --workers` (default: one a core)")
    parser.add_argument("--award-rounds", type=int, default=awards.ROUNDS,
                        help="rounds of the award race, whose median is read (default %(default)s)")
    parser.add_argument("--rush-suppliers", type=int, default=300,
                        help="invited suppliers bidding in the deadline rush (default %(default)s)")
    parser.add_argument("--rush-submissions", type=int, default=500,
                        help="bid submissions and revisions before the deadline (default %(default)s)")
    parser.add_argument("--rush-seconds", type=float, default=60,
                        help="the last seconds before the deadline they are spread over (default %(default)s)")
    parser.add_argument("--rush-after", type=int, default=50,
                        help="requests in the 5 seconds after the deadline (default %(default)s)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL,
                        help="a PostgreSQL server where the awards benchmark may create a database")
    return parser.parse_args(argv)


def _data_key(arguments: argparse.Namespace) -> dict[str, Any]:
    return {"listings": arguments.listings, "suppliers": arguments.suppliers, "competitions": arguments.competitions,
            "seed": arguments.seed, "database_url": arguments.database_url}


def ensure_data(arguments: argparse.Namespace) -> tuple[Target, dict[str, Any]]:
    marker = arguments.work_dir / "generated.json"
    if arguments.reuse and marker.exists():
        recorded = json.loads(marker.read_text())
        if recorded["key"] == _data_key(arguments):
            console.print(f"Reusing the data generated on {recorded['at']} in {arguments.work_dir}")
            return Target(recorded["database_url"], Path(recorded["var_dir"])), recorded["result"]
    target = target_from(arguments.database_url, arguments.work_dir)
    result = generate(target, Sizes(arguments.listings, arguments.suppliers, arguments.competitions), arguments.seed)
    print_summary(result)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"key": _data_key(arguments), "at": time.strftime("%Y-%m-%d %H:%M"),
                                  "database_url": target.database_url, "var_dir": str(target.var_dir),
                                  "result": result}, default=str))
    return target, result


async def ensure_index(settings: Any) -> None:
    """The search and page benchmarks need an index; build one (untimed) if the index benchmark did not."""
    from catalogue.reindex import rebuild_search_index
    from catalogue.search import forget_search_index

    if settings.search_backend == "embedded" and index_bytes(settings):
        from catalogue.search import search_index_for
        from catalogue.search.port import SearchQuery

        found = (await search_index_for(settings).search(SearchQuery(page_size=1))).total
        await forget_search_index(settings)
        if found:
            return
    console.print("Building the search index (not timed: run --only index for that)")
    await rebuild_search_index(settings, DEFAULT_AS_OF)
    await forget_search_index(settings)


async def create_api_key(settings: Any) -> str:
    from dps.api_keys.rules import MAX_RATE_LIMIT
    from dps.api_keys.services import create_api_key as create
    from dps.audit.services import Actor
    from dps.db import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            _, secret = await create(session, name="benchmark", actor=Actor.system("bench"), now=DEFAULT_AS_OF,
                                     rate_limit_per_minute=MAX_RATE_LIMIT)  # never the limit measured
            return secret
    finally:
        await engine.dispose()


CEILING_ROUNDS = 5


def measure_ceilings(ceilings: tuple[tuple[str, bool, str], ...], environment: dict[str, str], work_dir: Path,
                     load_dir: Path, arguments: argparse.Namespace, section: Section) -> dict[str, float]:
    """The ceilings' servers run side by side (an idle one costs nothing) and are loaded in turn, round after round:
    a machine whose speed drifts within a minute moves every ceiling alike, so their ratios hold. Each round starts
    with the next ceiling, so none is always first or last. Each ceiling's throughput is the median of its rounds."""
    servers = [ceiling_server(environment, work_dir / "logs" / f"ceiling-{index}.log", bare=bare)
               for index, (_, bare, _) in enumerate(ceilings)]
    rates: dict[str, list[float]] = {label: [] for label, _, _ in ceilings}
    last: dict[str, Any] = {}
    try:
        for server, (_, _, path) in zip(servers, ceilings, strict=True):
            server.start(ready_path=path)
        for server, (label, _, path) in zip(servers, ceilings, strict=True):
            console.print(f"Load: {label}, one connection")
            load_figures(section, label, run_wrk(server.base_url, [path], load_dir, connections=1,
                                                 seconds=arguments.seconds), throughput=False)
        for round_number in range(1, CEILING_ROUNDS + 1):
            console.print(f"Load: the ceilings, {arguments.connections} connections, round {round_number} of "
                          f"{CEILING_ROUNDS}")
            turn = list(zip(servers, ceilings, strict=True))
            shift = (round_number - 1) % len(turn)
            for server, (label, _, path) in turn[shift:] + turn[:shift]:
                last[label] = run_wrk(server.base_url, [path], load_dir, connections=arguments.connections,
                                      seconds=max(1.0, arguments.seconds / 2))
                rates[label].append(last[label].per_second)
    finally:
        for server in servers:
            server.stop()
    for label, _, _ in ceilings:
        if label in last:
            section.add(f"{label}: p50 / p95 / p99 (many connections, last round)",
                        f"{last[label].p50_ms:.1f} / {last[label].p95_ms:.1f} / {last[label].p99_ms:.1f}", "ms")
            section.add(f"{label}: requests a second, median of {CEILING_ROUNDS} rounds",
                        statistics.median(rates[label]), "req/s")
            section.add(f"{label}: requests a second in each round",
                        ", ".join(f"{rate:,.0f}" for rate in rates[label]), "req/s")
    return {label: statistics.median(values) for label, values in rates.items() if values}


def load_figures(section: Section, label: str, result: Any, *, throughput: bool) -> None:
    """One wrk run as figures: latency percentiles, and requests a second for the throughput run."""
    connections = "many connections" if throughput else "1 connection"
    section.add(f"{label}: p50 / p95 / p99 ({connections})",
                f"{result.p50_ms:.1f} / {result.p95_ms:.1f} / {result.p99_ms:.1f}", "ms")
    if throughput:
        section.add(f"{label}: requests a second", result.per_second, "req/s")
    if result.errors:
        section.add(f"{label}: errors (non-2xx, timeouts)", result.errors, "requests")


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    selected = tuple(arguments.only or BENCHMARKS)
    started = time.perf_counter()
    work_dir = arguments.work_dir.resolve()
    arguments.work_dir = work_dir
    if all(name in OWN_DATA for name in selected):
        target, generated = target_from(arguments.database_url, work_dir), {}
    else:
        target, generated = ensure_data(arguments)
    # This process reads and writes the data itself: no in-process outbox worker (the index benchmark drives one).
    os.environ["OUTBOX_WORKER"] = "off"
    settings = target.settings()
    database = sqlite_version() if target.is_sqlite else "PostgreSQL"
    machine = Machine.detect(database, settings.search_backend)
    sections: list[Section] = []
    wanted_http = any(name in selected for name in ("search", "pages", "memory"))

    if "index" in selected:
        sections.append(asyncio.run(index.run(settings, DEFAULT_AS_OF, arguments.changes)))
        print_section(sections[-1], machine)
    if wanted_http or "search" in selected:
        asyncio.run(ensure_index(settings))

    cases = search.query_mix(arguments.seed, arguments.queries)
    search_section = Section("Search: the catalogue query mix, engine and HTTP")
    engine_overall: dict[str, float] = {}
    if "search" in selected:
        from catalogue.search import forget_search_index

        async def engine_run() -> dict[str, list[float]]:
            try:
                return await search.time_engine(settings, cases, warmup=min(200, len(cases)))
            finally:
                await forget_search_index(settings)

        console.print(f"Timing {len(cases)} queries against the engine in-process")
        engine_overall = search.engine_figures(search_section, asyncio.run(engine_run()))

    pages_section = Section("Pages: buyer search page and innovation page under load")
    memory_section: Section | None = None
    if wanted_http and not wrk_available():
        for section in (search_section, pages_section):
            section.notes.append("wrk is not installed (make bench installs it): HTTP figures skipped")
    elif wanted_http:
        secret = asyncio.run(create_api_key(settings))
        listing_paths = asyncio.run(pages.listing_page_paths(settings, arguments.seed, 500))
        server_environment = target.environment(OUTBOX_WORKER="external", SEARCH_BACKEND=settings.search_backend,
                                                TEMPLATE_AUTO_RELOAD="false")  # as in production
        load_dir = work_dir / "load"
        server = product_server(server_environment, work_dir / "logs" / "server.log")
        console.print("Starting `dps serve` (one uvicorn worker)")
        start_seconds = server.start()
        try:
            run_wrk(server.base_url, [case.path("/api/v1/innovations") for case in cases[:200]], load_dir,
                    connections=2, seconds=2, token=secret)  # warm-up
            idle_rss = server.rss()
            server.sample_rss()

            def drive(paths: list[str], *, token: str = "") -> tuple[Any, Any]:
                single = run_wrk(server.base_url, paths, load_dir, connections=1, seconds=arguments.seconds,
                                 token=token)
                many = run_wrk(server.base_url, paths, load_dir, connections=arguments.connections,
                               seconds=arguments.seconds, token=token)
                return single, many

            if "search" in selected or "memory" in selected:
                console.print("Load: GET /api/v1/innovations with the query mix")
                single, many = drive([case.path("/api/v1/innovations") for case in cases], token=secret)
                load_figures(search_section, "HTTP /api/v1/innovations", single, throughput=False)
                load_figures(search_section, "HTTP /api/v1/innovations", many, throughput=True)
                if engine_overall:
                    search_section.add("HTTP over engine latency, p50 (1 connection)",
                                       single.p50_ms / engine_overall["p50"], "x")
                    search_section.add("HTTP over engine latency, p99 (1 connection)",
                                       single.p99_ms / engine_overall["p99"], "x")
            if "pages" in selected or "memory" in selected:
                console.print("Load: the buyer search page and innovation pages")
                single, many = drive(pages.search_page_paths(cases))
                load_figures(pages_section, "search page", single, throughput=False)
                load_figures(pages_section, "search page", many, throughput=True)
                single, many = drive(listing_paths)
                load_figures(pages_section, "innovation page", single, throughput=False)
                load_figures(pages_section, "innovation page", many, throughput=True)
                many = run_wrk(server.base_url, ["/health"], load_dir, connections=arguments.connections,
                               seconds=arguments.seconds)
                load_figures(pages_section, "GET /health (database + index check)", many, throughput=True)
            if "memory" in selected:
                memory_section = memory.section(
                    server, idle_rss, generated.get("counts", {}).get("listings in search"), database_size(target),
                    index_bytes(settings) or None)
                memory_section.notes.append(f"The server answered {start_seconds:.1f} s after it was started.")
        finally:
            server.stop()

        if "search" in selected:
            api = search_section.value("HTTP /api/v1/innovations: requests a second")
            # One ping through the app's page stack (every middleware), one through its /api/v1 stack (which skips
            # what only pages need), and one on bare Litestar: the framework's ceiling.
            ceilings = (("ceiling: constant JSON through the app", False, PING_PATH),
                        ("ceiling: constant JSON through the app's API stack (/api/v1)", False, API_PING_PATH),
                        ("ceiling: bare Litestar, constant JSON", True, PING_PATH))
            throughputs = measure_ceilings(ceilings, server_environment, work_dir, load_dir, arguments,
                                           search_section)
            bare_rate = throughputs.get(ceilings[-1][0])
            if bare_rate:
                if api:
                    search_section.add("search API throughput / bare Litestar, constant JSON", api / bare_rate * 100,
                                       "%", target=">= 25")
                for label, bare, _ in ceilings:
                    if not bare and throughputs.get(label):
                        search_section.add(f"{label.removeprefix('ceiling: ')} / bare Litestar (throughput)",
                                           throughputs[label] / bare_rate * 100, "%", target=">= 85")
                for page, target in (("search page", ">= 8"), ("innovation page", ">= 12")):
                    rate = pages_section.value(f"{page}: requests a second")
                    if rate:
                        pages_section.add(f"{page} / bare Litestar, constant JSON (throughput)",
                                          rate / bare_rate * 100, "%", target=target)
        search_section.notes.append(
            f"Mix of {len(cases)} queries: " + ", ".join(f"{kind} {share}%" for kind, share in search.MIX.items())
            + ". "
            f"Throughput runs use {arguments.connections} connections for {arguments.seconds:.0f} s; the server "
            "runs with OUTBOX_WORKER=external so the clock-driven jobs do not run inside the measurement.")

    if "search" in selected:
        sections.append(search_section)
        print_section(search_section, machine)
    if "pages" in selected:
        sections.append(pages_section)
        print_section(pages_section, machine)
    if "memory" in selected:
        sections.append(memory_section or Section("Memory: the server process", skipped="no HTTP load was run"))
        print_section(sections[-1], machine)
    if "awards" in selected:
        console.print("Awards under contention: preparing a PostgreSQL database")
        awards_section = asyncio.run(awards.run(arguments.postgres_url, arguments.awards, arguments.seed, work_dir,
                                                       processes=arguments.award_processes,
                                                       rounds=arguments.award_rounds))
        awards_machine = Machine.detect("PostgreSQL", machine.search_backend)
        sections.append(awards_section)
        print_section(awards_section, awards_machine)
    if "rush" in selected:
        console.print("Deadline rush: preparing a PostgreSQL database")
        rush_section = asyncio.run(rush.run(
            arguments.postgres_url, work_dir, suppliers=arguments.rush_suppliers,
            submissions=arguments.rush_submissions, after=arguments.rush_after, window=arguments.rush_seconds,
            seed=arguments.seed))
        sections.append(rush_section)
        print_section(rush_section, Machine.detect("PostgreSQL", machine.search_backend))

    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    results = work_dir / "results"
    if (results / "last.json").exists():
        (results / "last.json").replace(results / "previous.json")
    save_run(results / "last.json", command.strip(), machine, sections,
             {"generated": generated, "sizes": _data_key(arguments)})
    compare_with(results / "previous.json", sections)
    elapsed = timedelta(seconds=round(time.perf_counter() - started))
    console.print(f"Benchmarks finished in {elapsed}; results in {results / 'last.json'}")


if __name__ == "__main__":
    main()

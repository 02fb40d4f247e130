"""Does the Tantivy binding release the GIL during a search? Two threads against one, same queries.

    .venv/bin/python -m bench.gil --work-dir var/bench        # after `python -m bench` built the data and index

It opens the embedded index the benchmark built, takes the benchmark's query mix and runs it twice:
- binding calls only: `searcher.search` and `searcher.aggregate` with the queries already built (the time spent
  inside the Rust engine);
- whole searches: the adapter's search as the app's thread pool runs it (queries built, facets, highlights and
  documents read in Python around the binding's calls).
Each is run by one thread, then by two threads each running the whole list at the same time. If the binding
releases the GIL, two threads on two idle cores do close to twice the work per second (a speed-up near 2.0);
if it holds it, close to 1.0. The load average is printed: on a loaded machine the speed-up is capped by the
cores other work leaves free, so compare it with the process CPU time per wall second, also printed.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.search import query_mix


def _timed(threads: int, work: Callable[[], None]) -> tuple[float, float]:
    """Run `work` in `threads` threads at once; (wall seconds, process CPU seconds)."""
    barrier = threading.Barrier(threads + 1)

    def run() -> None:
        barrier.wait()
        work()

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    cpu, started = time.process_time(), time.perf_counter()
    barrier.wait()
    for thread in pool:
        thread.join()
    return time.perf_counter() - started, time.process_time() - cpu


def measure(label: str, work: Callable[[], None], count: int, rounds: int) -> dict[str, float]:
    work()  # warm-up: files in the page cache, queries compiled
    best: dict[int, tuple[float, float]] = {}
    for _ in range(rounds):
        for threads in (1, 2):
            wall, cpu = _timed(threads, work)
            if threads not in best or wall < best[threads][0]:
                best[threads] = (wall, cpu)
    one = count / best[1][0]
    two = 2 * count / best[2][0]
    result = {"one thread, queries/s": one, "two threads, queries/s": two, "speed-up": two / one,
              "CPU seconds per wall second, two threads": best[2][1] / best[2][0]}
    print(f"{label}:")
    for name, value in result.items():
        print(f"  {name}: {value:.2f}")
    return result


def counter_rate(main_thread_work: Callable[[], None], seconds: float) -> float:
    """How fast another Python thread counts while this thread does `main_thread_work` over and over (counts/s)."""
    stop = threading.Event()
    counted = [0]

    def count() -> None:
        n = 0
        while not stop.is_set():
            n += 1
        counted[0] = n

    counter = threading.Thread(target=count)
    counter.start()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        main_thread_work()
    stop.set()
    counter.join()
    return counted[0] / (time.perf_counter() - started)


def probe(binding_call: Callable[[], None], seconds: float) -> dict[str, float]:
    """A second check, less sensitive to a loaded machine: does a Python thread keep running while this one is
    inside the binding? Its counting rate while this thread sleeps (GIL free) is the reference; while this thread
    runs Python (GIL shared) it drops to about half; while this thread is in the binding it stays near the reference
    if the binding releases the GIL, and drops like the Python case if not."""

    def python_work() -> None:
        total = 0
        for i in range(20_000):
            total += i

    rates = {"this thread sleeping": counter_rate(lambda: time.sleep(0.005), seconds),
             "this thread running Python": counter_rate(python_work, seconds),
             "this thread inside the binding": counter_rate(binding_call, seconds)}
    reference = rates["this thread sleeping"]
    print("another thread's counting rate, as a share of its rate while this thread sleeps:")
    for name, rate in rates.items():
        print(f"  {name}: {rate / reference:.2f}")
    return {name: rate / reference for name, rate in rates.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)

    from catalogue.search.port import FACET_FIELDS
    from catalogue.search.tantivy_index import TantivySearchIndex, full_query
    from dps.settings import Settings

    settings = Settings.from_env({"DPS_VAR_DIR": str(arguments.work_dir.resolve())})
    index = TantivySearchIndex(settings.search_index_dir)
    queries = [case.query(highlight=True) for case in query_mix(arguments.seed, arguments.queries)]
    engine = index._open()  # the binding's own objects, to time its calls alone
    searcher = engine.searcher()
    print(f"{searcher.num_docs} documents in {index.path}; {len(queries)} queries; "
          f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start")
    built: list[Any] = [full_query(query)[0] for query in queries]
    aggregation = {name: {"terms": {"field": name, "size": 1000}} for name in FACET_FIELDS}

    def binding_only() -> None:
        for query in built:
            searcher.search(query, 20, count=True)
            searcher.aggregate(query, aggregation)

    def whole_searches() -> None:
        for query in queries:
            index._search(query)  # what the app's thread pool runs

    probe(binding_only, seconds=3)
    measure("binding calls only (search + facet aggregation)", binding_only, len(built), arguments.rounds)
    measure("whole searches (the adapter, highlights included)", whole_searches, len(queries), arguments.rounds)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    index.close_now()


if __name__ == "__main__":
    main()

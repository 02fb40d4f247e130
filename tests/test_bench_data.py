"""`make bench` starts by generating its data through the product's own services: a change to a service that the
generator does not follow (a new step before a milestone can be paid, say) must fail here, not in a benchmark run."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def test_the_benchmark_data_is_generated_through_every_stage_of_a_competition(tmp_path):
    run = subprocess.run([sys.executable, "-m", "bench.generate", "--listings", "60", "--suppliers", "12",
                          "--competitions", "8", "--seed", "3", "--work-dir", str(tmp_path)],
                         cwd=PROJECT, capture_output=True, text=True, timeout=280)
    assert run.returncode == 0, run.stderr[-3000:]
    with sqlite3.connect(tmp_path / "dps.db") as database:
        states = dict(database.execute("SELECT state, count(*) FROM competition GROUP BY state").fetchall())
        paid = database.execute("SELECT count(*) FROM milestone_payment WHERE state = 'paid'").fetchone()[0]
        contracts = database.execute("SELECT count(*) FROM contract").fetchone()[0]
    assert states.get("awarded", 0) >= 1 and contracts == states["awarded"]
    assert paid >= 1

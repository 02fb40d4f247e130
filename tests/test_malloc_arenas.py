"""A server process limits glibc's malloc arenas (each thread's freed memory otherwise stays reserved in an arena of
its own), and an operator's MALLOC_ARENA_MAX always wins."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

PROBE = ("import os; from dps.malloc_arenas import limit_malloc_arenas; "
         "print(limit_malloc_arenas(), os.environ.get('MALLOC_ARENA_MAX'))")


def run_probe(**environment: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    completed = subprocess.run([sys.executable, "-c", PROBE], env={**env, **environment}, capture_output=True,
                               text=True, check=True, timeout=60)
    return completed.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena limit is glibc's")
def test_a_process_limits_itself_and_the_workers_it_starts_to_two_arenas():
    assert run_probe() == "True 2"


def test_the_operators_setting_wins():
    assert run_probe(MALLOC_ARENA_MAX="8") == "False 8"

"""A served app moves what exists at start-up out of the garbage collector's sight; an app built by a test does not
(a test process builds many, and a frozen one would never be collected). Run in a process of its own, since
freezing is for the whole process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from dps.settings import PROJECT_ROOT

SCRIPT = textwrap.dedent("""
    import asyncio, gc
    from types import SimpleNamespace
    from dps.app import long_lived_objects_frozen

    async def main():
        for environment in ("test", "production"):
            app = SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(environment=environment)))
            async with long_lived_objects_frozen(app):
                print(environment, gc.get_freeze_count())

    asyncio.run(main())
""")


def test_objects_alive_at_start_up_are_frozen_outside_tests_only():
    ran = subprocess.run([sys.executable, "-c", SCRIPT], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    counts = dict(line.split() for line in ran.stdout.splitlines())
    assert int(counts["test"]) == 0
    assert int(counts["production"]) > 10_000  # the modules and what they hold, not a handful of objects

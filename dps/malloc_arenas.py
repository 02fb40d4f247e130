"""How many malloc arenas a server process may have (glibc): two, unless the operator says otherwise.

glibc gives threads their own arenas, up to eight per core, and an arena keeps the memory its threads freed. A
server's threads (one per SQLite connection, the search thread pool) each hold such a reserve, so under load the
process grows by tens of MiB that it never uses again. Two arenas is the usual setting for Python servers; the
measured cost here is none (bench/README.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def limit_malloc_arenas() -> bool:
    """Limit this process (and the worker processes it starts) to `ARENAS` arenas, before any thread starts. An
    operator's MALLOC_ARENA_MAX wins: glibc has read it already. True if the limit was set here."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    os.environ["MALLOC_ARENA_MAX"] = str(ARENAS)  # read by glibc in each worker process uvicorn starts
    library = ctypes.util.find_library("c")
    if library is None:
        return False
    try:
        mallopt = ctypes.CDLL(library).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to limit
        return False
    return bool(mallopt(_M_ARENA_MAX, ARENAS))

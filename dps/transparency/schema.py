"""The OCDS 1.1.5 release schema kept with the code, so that merging works offline.

`release-schema-1__1__5.json` is the standard's release schema, as shipped in the ocdsextensionregistry 0.7.0
source distribution (tests/fixtures/release-schema.json, id .../schema/1__1__5/release-schema.json).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

RELEASE_SCHEMA_PATH = Path(__file__).with_name("release-schema-1__1__5.json")


@lru_cache(maxsize=1)
def merger() -> Any:
    # Imported here: ocdsmerge brings requests and jsonref, which only a compiled release needs, not every process.
    import ocdsmerge

    return ocdsmerge.Merger(schema=str(RELEASE_SCHEMA_PATH))

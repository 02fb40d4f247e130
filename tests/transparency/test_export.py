"""`dps export-ocds PATH` on the demo data: a release package libcoveocds validates clean."""

from __future__ import annotations

import json

from dps.db import make_engine, make_sessionmaker
from dps.wiring import seed_demo_data
from tests.test_cli import run_dps
from tests.transparency.support import assert_valid


async def test_the_demo_data_exports_to_a_valid_release_package(db, settings, tmp_path):
    engine = make_engine(settings.database_url)
    try:
        await seed_demo_data(make_sessionmaker(engine), settings, only_if_empty=False)
    finally:
        await engine.dispose()
    target = tmp_path / "ocds.json"
    result = run_dps("export-ocds", str(target), env={"DATABASE_URL": settings.database_url,
                                                      "DPS_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "releases to" in result.stdout
    package = json.loads(target.read_text())
    tags = sorted(tag for release in package["releases"] for tag in release["tag"])
    # Seven published demo competitions (the draft is not), one cancelled, one contract with its award. The award in
    # standstill is not public: under PCR 2015 its contract award notice is published with the contract.
    assert tags.count("tender") == 7 and tags.count("tenderCancellation") == 1
    assert tags.count("award") == 1 and tags.count("contract") == 1
    assert_valid(package)
    ocids = {release["ocid"] for release in package["releases"]}
    assert all(ocid.startswith(settings.ocid_prefix + "-") for ocid in ocids) and len(ocids) == 7

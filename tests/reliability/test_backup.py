"""`dps backup` and `dps restore`: a backup restored into a fresh database holds everything, and its audit chain
verifies there."""

from __future__ import annotations

import sqlalchemy as sa

from dps.audit.services import chain_head
from dps.db import make_engine
from dps.identity.models import Organisation
from dps.settings import normalise_database_url
from tests.conftest import fresh_database_url
from tests.factories import make_supplier
from tests.helpers import count_rows, seal_audit_log
from tests.test_cli import run_dps


async def test_a_backup_restored_into_a_fresh_database_verifies(database_url, backend, db, clock, tmp_path):
    await make_supplier(db, clock, name="Acme Health Ltd", number="12345678")
    await db.commit()
    await seal_audit_log(db, clock.now())
    head = await chain_head(db)
    organisations = await count_rows(db, Organisation)
    backup = tmp_path / "backups" / "dps.backup"

    made = run_dps("backup", str(backup), env={"DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path)})
    assert made.returncode == 0, made.stderr
    assert backup.is_file() and backup.stat().st_size > 0 and "Backed up" in made.stdout

    fresh_url, drop = await fresh_database_url(backend, tmp_path)
    env = {"DATABASE_URL": fresh_url, "DPS_VAR_DIR": str(tmp_path / "fresh")}
    try:
        restored = run_dps("restore", "--yes", str(backup), env=env)
        assert restored.returncode == 0, restored.stderr
        verified = run_dps("audit", "verify", "--checkpoint", str(head), env=env)
        assert verified.returncode == 0, verified.stderr
        assert f"Audit chain verified: {head.sequence} sealed events" in verified.stdout
        engine = make_engine(normalise_database_url(fresh_url))
        try:
            async with engine.connect() as connection:
                copied = await connection.scalar(sa.select(sa.func.count()).select_from(Organisation))
                names = set((await connection.scalars(sa.select(Organisation.name))).all())
        finally:
            await engine.dispose()
        assert copied == organisations and "Acme Health Ltd" in names
    finally:
        if drop:
            await drop()


async def test_a_restore_refuses_a_file_that_is_no_backup(database_url, tmp_path):
    junk = tmp_path / "junk.backup"
    junk.write_text("not a backup")
    refused = run_dps("restore", "--yes", str(junk), env={"DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path)})
    assert refused.returncode == 1 and "Restore failed" in refused.stderr

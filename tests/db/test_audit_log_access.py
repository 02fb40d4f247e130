"""Authority admins browse and export the audit log; `dps audit verify` catches a tampered row."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from dps.audit.models import AuditEvent
from dps.audit.services import chain_head, unsealed_tail
from dps.identity.models import Role
from tests.factories import make_authority_user, make_supplier
from tests.helpers import seal_audit_log, sign_in
from tests.test_cli import run_dps


async def test_authority_admin_filters_and_exports_events(client, db, passwords, clock):
    await make_supplier(db, clock, name="Acme Health Ltd", number="12345678")
    await db.commit()
    admin = await make_authority_user(db, passwords, clock, email="ada@authority.example", role=Role.AUTHORITY_ADMIN)
    await sign_in(client, admin.email)

    page = await client.get("/authority/audit?entity_type=organisation")
    assert page.status_code == 200
    assert "organisation.created" in page.text and "Acme Health Ltd" in page.text
    assert "category.created" not in page.text  # filtered out

    by_actor = await client.get("/authority/audit?actor=ada@authority")
    assert "user.signed_in" in by_actor.text and "organisation.created" not in by_actor.text

    await seal_audit_log(db, clock.now())
    export = await client.get("/authority/audit/export.csv?entity_type=organisation")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    organisation_events = (await db.scalars(sa.select(AuditEvent).where(AuditEvent.entity_type == "organisation")
                                            .order_by(AuditEvent.sequence))).all()
    await db.commit()
    assert [int(r["sequence"]) for r in rows] == [e.sequence for e in organisation_events]
    assert [r["hash"] for r in rows] == [e.hash for e in organisation_events]

    bad_date = await client.get("/authority/audit?since=31-01-2026")
    assert bad_date.status_code == 400 and "Enter a date like 2026-01-31" in bad_date.text


async def test_only_authority_admins_read_the_audit_log(client, db, passwords, clock):
    eve = await make_authority_user(db, passwords, clock)
    await sign_in(client, eve.email)
    assert (await client.get("/authority/audit")).status_code == 403
    assert (await client.get("/authority/audit/export.csv")).status_code == 403


async def test_dps_audit_verify_reports_the_unsealed_tail(database_url, db, clock, tmp_path):
    env = {"DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path)}
    unsealed = (await unsealed_tail(db)).count
    await db.commit()
    assert unsealed > 0  # the reference data's events, not sealed yet

    before = run_dps("audit", "verify", env=env)
    assert before.returncode == 0, before.stderr
    assert "Audit chain verified: 0 sealed events" in before.stdout
    assert f"Unsealed tail: {unsealed} events, the oldest" in before.stdout

    checkpoint = run_dps("audit", "checkpoint", env=env)  # seals what is committed, then prints the head
    assert checkpoint.returncode == 0, checkpoint.stderr
    head = await chain_head(db)
    await db.commit()
    assert head.sequence == unsealed and checkpoint.stdout.strip() == f"{head.sequence}:{head.hash}"

    after = run_dps("audit", "verify", "--checkpoint", str(head), env=env)
    assert after.returncode == 0, after.stderr
    assert f"Audit chain verified: {unsealed} sealed events" in after.stdout and "Unsealed tail: none" in after.stdout
    wrong = run_dps("audit", "verify", "--checkpoint", f"{head.sequence}:{'f' * 64}", env=env)
    assert wrong.returncode == 1 and "does not match the checkpoint" in wrong.stderr


async def test_dps_audit_verify_passes_then_names_the_tampered_event(database_url, db, clock, tmp_path):
    env = {"DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path)}
    await seal_audit_log(db, clock.now())
    intact = run_dps("audit", "verify", env=env)
    assert intact.returncode == 0, intact.stderr
    assert "Audit chain verified" in intact.stdout

    target = await db.scalar(sa.select(AuditEvent).where(AuditEvent.action == "category.created")
                             .order_by(AuditEvent.sequence).limit(1))
    await db.execute(sa.update(AuditEvent).where(AuditEvent.id == target.id).values(actor_label="someone-else"))
    await db.commit()

    broken = run_dps("audit", "verify", env=env)
    assert broken.returncode == 1
    assert f"Audit chain broken at event {target.sequence}" in broken.stderr
    assert "content does not match its hash" in broken.stderr

"""The `dps` console script, run as a real process against the test database."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import sign_in

DPS = shutil.which("dps") or str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "dps")


def run_dps(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "DPS_ENV": "test", **env}
    return subprocess.run([DPS, *args], env=full_env, capture_output=True, text=True, timeout=120, input=stdin)


def test_help_lists_every_command():
    result = run_dps("--help", env={})
    assert result.returncode == 0
    for command in ("serve", "db", "seed-demo", "create-user"):
        assert command in result.stdout


def test_db_upgrade_builds_an_empty_sqlite_database_under_var(tmp_path):
    result = run_dps("db", "upgrade", env={"DPS_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dps.db").exists()
    assert "61 reference rows added" in result.stdout
    again = run_dps("db", "upgrade", env={"DPS_VAR_DIR": str(tmp_path)})
    assert "0 reference rows added" in again.stdout


async def test_create_user_then_sign_in_with_it(database_url, tmp_path, client):
    env = {"DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path), "DPS_NEW_USER_PASSWORD": "a-long-password-1"}
    result = run_dps("create-user", "Kim@Trust.example.nhs.uk", "--role", "fund_manager", "--org", "qe1", env=env)
    assert result.returncode == 0, result.stderr
    assert "kim@trust.example.nhs.uk" in result.stdout.lower()

    response = await sign_in(client, "kim@trust.example.nhs.uk", password="a-long-password-1")
    assert response.status_code == 303
    assert response.headers["location"] == "/buyer"


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "buyer", "--org", "ZZZ"], "No organisation has the ODS code or Companies House number 'ZZZ'"),
    (["--role", "supplier_admin", "--org", "QE1"], "A buyer organisation's roles are"),
])
def test_create_user_refuses_bad_input_with_a_clear_error(database_url, tmp_path, args, message):
    env = {"DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path), "DPS_NEW_USER_PASSWORD": "a-long-password-1"}
    result = run_dps("create-user", "kim@example.org", *args, env=env)
    assert result.returncode == 1
    assert message in result.stderr


def test_seed_demo_prints_one_account_per_role_and_is_idempotent(database_url, tmp_path):
    env = {"DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path)}
    first = run_dps("seed-demo", "--if-empty", env=env)
    assert first.returncode == 0, first.stderr
    for role in ("supplier_admin", "supplier_user", "buyer", "evaluator", "fund_manager", "authority_admin"):
        assert role in first.stdout
    second = run_dps("seed-demo", "--if-empty", env=env)
    assert "Demo data already present" in second.stdout


async def test_demo_data_holds_suppliers_in_every_admission_state(database_url, tmp_path, db):
    import sqlalchemy as sa

    from dps.admission.models import Admission, Application

    result = run_dps("seed-demo", env={"DATABASE_URL": database_url, "DPS_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    application_states = set((await db.scalars(sa.select(Application.state))).all())
    admission_states = set((await db.scalars(sa.select(Admission.state))).all())
    await db.commit()
    assert {"draft", "submitted", "under_evaluation", "admitted", "rejected"} <= application_states
    assert {"active", "suspended"} <= admission_states

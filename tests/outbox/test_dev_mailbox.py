"""In development every email can be read without a mail server: it is saved as an .eml file under var/mail/ and
shown at /dev/mail, with its links working; SMTP is used only when SMTP_URL is set. Outside development the
mailbox does not exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from dps.app import create_app
from dps.mail import page_link, queue_email, saved_emails
from dps.settings import Settings


def development(database_url: str, var_dir: Path, **env: str) -> Settings:
    return Settings.from_env({"DPS_ENV": "development", "DATABASE_URL": database_url, "DPS_VAR_DIR": str(var_dir),
                              "OUTBOX_WORKER": "off", "BASE_URL": "http://127.0.0.1:8123", **env})


async def _queue_invitation(db: Any, clock: Any) -> None:
    await queue_email(db, to="ann@acme.example", subject="Invitation to bid: Virtual wards",
                      body="You are invited.\n\nBid here: " + page_link("/supplier/competitions/7"),
                      dedupe_key="invite:7", now=clock.now())
    await db.commit()


async def test_in_development_an_email_is_saved_under_var_mail_and_no_smtp_is_needed(
        db, clock, database_url, tmp_path, smtp_server, drain_outbox):
    settings = development(database_url, tmp_path)
    assert not settings.smtp_enabled and settings.mailbox_dir == tmp_path / "mail"
    await _queue_invitation(db, clock)
    report = await drain_outbox(settings=settings)
    assert (report.delivered, report.failed) == (1, 0)
    assert smtp_server.messages == []
    [saved] = list((tmp_path / "mail").glob("*.eml"))
    text = saved.read_text()
    assert "To: ann@acme.example" in text and "http://127.0.0.1:8123/supplier/competitions/7" in text
    [email] = saved_emails(tmp_path / "mail")
    assert email.subject == "Invitation to bid: Virtual wards" and email.sent_at == clock.now()


async def test_in_development_with_smtp_url_set_the_email_is_also_sent(
        db, clock, database_url, tmp_path, smtp_server, smtp_port, drain_outbox):
    settings = development(database_url, tmp_path, SMTP_URL=f"smtp://127.0.0.1:{smtp_port}")
    await _queue_invitation(db, clock)
    await drain_outbox(settings=settings)
    assert [m["To"] for m in smtp_server.messages] == ["ann@acme.example"]
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


def test_outside_development_there_is_no_mailbox_and_smtp_is_used(tmp_path):
    settings = Settings.from_env({"DPS_ENV": "test", "DPS_VAR_DIR": str(tmp_path)})
    assert settings.mailbox_dir is None and settings.smtp_enabled


@pytest.fixture
async def dev_client(database_url: str, tmp_path: Path, clock: Any, db: Any) -> Any:
    app = create_app(development(database_url, tmp_path), clock=clock)
    async with AsyncTestClient(app=app, base_url="http://127.0.0.1:8123") as client:
        client.follow_redirects = False
        yield client


async def test_the_development_mailbox_lists_the_emails_and_shows_each_with_working_links(
        dev_client, db, clock, database_url, tmp_path, drain_outbox):
    await _queue_invitation(db, clock)
    await drain_outbox(settings=development(database_url, tmp_path))
    listing = await dev_client.get("/dev/mail")
    assert listing.status_code == 200 and "Development mailbox" in listing.text
    assert "Invitation to bid: Virtual wards" in listing.text and "ann@acme.example" in listing.text
    [name] = [path.name for path in (tmp_path / "mail").glob("*.eml")]
    assert (await dev_client.get("/dev/mail", params={"to": "bob@elsewhere.example"})).text.count(name) == 0
    assert name in (await dev_client.get("/dev/mail", params={"to": "ANN@acme.example"})).text
    shown = await dev_client.get(f"/dev/mail/{name}")
    assert shown.status_code == 200
    assert ('<a href="http://127.0.0.1:8123/supplier/competitions/7">'
            'http://127.0.0.1:8123/supplier/competitions/7</a>') in shown.text
    for bad in ("nothing.eml", "..%2Fdps.db", "20260105T090000-1.eml.part"):
        assert (await dev_client.get(f"/dev/mail/{bad}")).status_code == 404


async def test_outside_development_the_mailbox_route_does_not_exist(client, app):
    assert (await client.get("/dev/mail")).status_code == 404
    assert not [route for route in app.routes if route.path.startswith("/dev")]

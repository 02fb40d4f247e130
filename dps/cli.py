"""The `dps` command: serve the marketplace, migrate the database, load demo data, manage users."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dps import wiring
from dps.api_keys.services import create_api_key
from dps.audit.sealing import AuditSealer
from dps.audit.services import Actor, ChainHead, chain_head, unsealed_tail, verify_chain
from dps.backup import BackupFailed, backup_database, restore_database
from dps.clock import SystemClock
from dps.competitions.services.loading import close_due_competitions
from dps.crypto import SealingKey, install_sealing_key
from dps.db import make_engine, make_sessionmaker
from dps.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
from dps.errors import DomainError
from dps.identity.commands import create_user_with_role
from dps.identity.models import Role
from dps.malloc_arenas import limit_malloc_arenas
from dps.migrate import upgrade_database
from dps.outbox.worker import OutboxWorker
from dps.payments.local_stripe import LocalStripeUnavailable, development_stripe
from dps.settings import Settings, SettingsError
from dps.transparency.services import export_package

console = Console()
T = TypeVar("T")


def load_settings() -> Settings:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        # One clear line naming the variable, then stop.
        click.echo(f"Configuration error: {error}", err=True)
        sys.exit(2)
    install_sealing_key(SealingKey(settings.bid_sealing_key))
    return settings


def run_async(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(sessionmaker)` against the configured database, disposing of the engine afterwards."""

    async def main() -> T:
        engine = make_engine(settings.database_url)
        try:
            return await work(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


@click.group(help="NHS Innovation DPS marketplace.")
def main() -> None:
    # Every command that changes data must see the same cross-domain reactions as the web app.
    wiring.subscribe_domain_listeners()


@main.command(help="Serve the marketplace over HTTP.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Server processes: the way to use more cores (the search engine's binding holds the GIL while it "
                   "searches). Each opens the search index as a reader; run `dps worker` beside them "
                   "(OUTBOX_WORKER=external) so one process writes the index.")
def serve(host: str, port: int, reload: bool, workers: int) -> None:
    limit_malloc_arenas()
    settings = load_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    local_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    served_at = f"http://{local_host}:{port}"
    if settings.environment == "development" and not os.environ.get("BASE_URL"):
        os.environ["BASE_URL"] = served_at  # the links in emails point at this server
    stripe = None
    try:
        stripe = development_stripe(settings, os.environ, webhook_url=f"{served_at}/webhooks/stripe")
    except LocalStripeUnavailable as error:
        console.print(f"[yellow]Payments are off:[/yellow] {error}")
    if stripe is not None:
        os.environ.update(stripe.environment)  # read by the app (and by --reload's workers) at start-up
        console.print(f"Payments: a local Stripe stand-in (test mode) at {stripe.api_base}")
    if settings.environment == "development":
        console.print(f"Emails: read them at {served_at}/dev/mail (also saved in {settings.var_dir / 'mail'})")
    console.print(f"[bold]NHS Innovation DPS[/bold] at [link]{served_at}[/link]  (database: "
                  f"{'SQLite' if settings.is_sqlite else 'PostgreSQL'}, search: {settings.search_backend})")
    if workers > 1 and settings.outbox_worker == "inprocess":
        console.print("Every server process drains the outbox too (OUTBOX_WORKER=inprocess): set "
                      "OUTBOX_WORKER=external and run `dps worker` beside them for one index writer.")
    # A worker process imports the whole app (and this command's module) before it answers the supervisor's
    # health check: give it time on a busy machine rather than have it killed as dead while it starts.
    # Forwarded headers are believed only from TRUSTED_PROXIES: from anyone else they would let a client pick the
    # address that rate limits count.
    try:
        uvicorn.run("dps.app:create_app", factory=True, host=host, port=port, reload=reload,
                    proxy_headers=bool(settings.trusted_proxies),
                    forwarded_allow_ips=list(settings.trusted_proxies) or None,
                    workers=None if reload else workers, timeout_worker_healthcheck=60)
    finally:
        if stripe is not None:
            stripe.stop()


@main.command(help="Drain the outbox (email, search index, payments) and seal the audit log until stopped.")
@click.option("--once", is_flag=True, help="Deliver what is due now and seal what is committed, then exit.")
def worker(once: bool) -> None:
    limit_malloc_arenas()
    settings = load_settings()

    async def work(sessions: Any) -> None:
        outbox = OutboxWorker.for_settings(sessions, wiring.outbox_consumers(settings), SystemClock(), settings)
        sealer = AuditSealer(sessions, SystemClock())
        if once:
            report = await outbox.drain_all()
            sealed = await sealer.seal_now()
            console.print(f"Delivered {report.delivered}, failed {report.failed}; sealed {sealed} audit events.")
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_name in ("SIGINT", "SIGTERM"):
            loop.add_signal_handler(getattr(signal, signal_name), stop.set)
        console.print("Outbox worker and audit sealer running; Ctrl+C stops them.")
        await asyncio.gather(outbox.run(stop), sealer.run(stop))

    run_async(settings, work)


@main.group(help="Housekeeping driven by the clock.")
def jobs() -> None:
    pass


@jobs.command("run", help="Send declaration-refresh reminders, assurance-expiry warnings and reminders of award "
                          "notices still to publish that are due now, close competitions whose tender deadline "
                          "has passed, take the day's audit checkpoint and rebuild the OCDS bulk files of the years "
                          "that changed.")
def run_jobs() -> None:
    settings = load_settings()

    async def work(sessions: Any) -> dict[str, int]:
        now = SystemClock().now()
        closed = await close_due_competitions(sessions, now)
        with Progress(TextColumn("OCDS bulk files"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("bulk", total=None)
            done = await wiring.run_daily_jobs(
                sessions, now, settings, progress=lambda year, years: bar.update(task, completed=year, total=years))
        return {**done, "competitions_closed": closed}

    done = run_async(settings, work)
    console.print(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in done.items()))


@main.group(help="The tamper-evident audit log.")
def audit() -> None:
    pass


@audit.command("verify", help="Walk the sealed hash chain; exit 0 if intact, or 1 naming the first event that fails. "
                              "Reports the unsealed tail and its age.")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="SEQUENCE:HASH",
              help="A published checkpoint the chain must still pass through (repeatable).")
def audit_verify(checkpoints: tuple[str, ...]) -> None:
    settings = load_settings()
    try:
        expected = [ChainHead.parse(text) for text in checkpoints]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--checkpoint") from error

    async def work(sessions: Any) -> Any:
        async with sessions() as session:
            return (await verify_chain(session, checkpoints=expected), await chain_head(session),
                    await unsealed_tail(session))

    problem, head, tail = run_async(settings, work)
    if problem is not None:
        click.echo(f"Audit chain broken at event {problem.sequence} (id {problem.event_id}): {problem.reason}",
                   err=True)
        sys.exit(1)
    console.print(f"Audit chain verified: {head.sequence} sealed events, each matching its hash and linking to the "
                  f"one before; head {head.hash}.")
    if tail.count:
        age = tail.age(SystemClock().now()).total_seconds()
        console.print(f"Unsealed tail: {tail.count} events, the oldest {age:.0f} s old"
                      + (" (the sealer is behind: is `dps worker` running?)" if age > 60 else "") + ".")
    else:
        console.print("Unsealed tail: none.")


@audit.command("checkpoint", help="Print the sealed chain's head as SEQUENCE:HASH (seal what is committed first).")
def audit_checkpoint() -> None:
    settings = load_settings()

    async def work(sessions: Any) -> ChainHead:
        await AuditSealer(sessions, SystemClock()).seal_now()
        async with sessions() as session:
            return await chain_head(session)

    click.echo(str(run_async(settings, work)))


@main.command("export-ocds", help="Write every published competition as one OCDS release package (JSON) to PATH.")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def export_ocds(path: str) -> None:



    settings = load_settings()

    async def work(sessions: Any) -> dict[str, Any]:
        with Progress(TextColumn("Exporting competitions"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
            task = bar.add_task("export", total=None)
            return await export_package(sessions, settings, SystemClock().now(),
                                        progress=lambda done, total: bar.update(task, completed=done, total=total))

    package = run_async(settings, work)
    Path(path).write_text(json.dumps(package, indent=2, ensure_ascii=False), encoding="utf-8")
    console.print(f"Wrote {len(package['releases'])} releases to {path}.")


@main.command("backup", help="Write a consistent copy of the whole database to PATH while the marketplace runs "
                              "(pg_dump on PostgreSQL, the online backup API on SQLite).")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def backup(path: Path) -> None:
    settings = load_settings()
    try:
        size = backup_database(settings.database_url, path)
    except BackupFailed as error:
        click.echo(f"Backup failed: {error}", err=True)
        sys.exit(1)
    console.print(f"Backed up the {'SQLite' if settings.is_sqlite else 'PostgreSQL'} database to {path} "
                  f"({size:,} bytes). Check it: restore it into a spare database and run `dps audit verify` there.")


@main.command("restore", help="Replace everything in the configured database with the backup at PATH. Stop the "
                               "server and the worker first.")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore(path: Path, yes: bool) -> None:
    settings = load_settings()
    if not yes:
        click.confirm(f"Replace every row of the configured database with {path}?", abort=True)
    try:
        restore_database(settings.database_url, path)
    except BackupFailed as error:
        click.echo(f"Restore failed: {error}", err=True)
        sys.exit(1)
    console.print(f"Restored {path}. Run `dps audit verify` to check the audit chain came back whole.")


@main.group(help="Database schema.")
def db() -> None:
    pass


@db.command(help="Apply every Alembic migration, then load any missing reference data.")
def upgrade() -> None:
    settings = load_settings()
    added = upgrade_database(settings)
    console.print(f"Database is up to date ({'SQLite' if settings.is_sqlite else 'PostgreSQL'}); "
                  f"{added} reference rows added.")


@main.command("seed-demo", help="Load demo organisations, users and data.")
@click.option("--if-empty", is_flag=True, help="Do nothing if the database already has users.")
def seed_demo(if_empty: bool) -> None:
    settings = load_settings()
    accounts = run_async(settings, lambda sessions: wiring.seed_demo_data(sessions, settings, only_if_empty=if_empty))
    if accounts is None:
        console.print("Demo data already present: nothing loaded.")
        accounts = DEMO_ACCOUNTS
    console.print("Demo accounts (password for all: [bold]" + DEMO_PASSWORD + "[/bold]):")
    for role, email in accounts:
        console.print(f"  {role:<16} {email}")


@main.command("create-user", help="Create a user with a role in an organisation (by ODS code, Companies House "
                                  "number, or 'authority').")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--org", "organisation", required=True, help="ODS code, Companies House number or 'authority'.")
@click.option("--name", "full_name", default=None, help="Full name (defaults to the email's local part).")
@click.password_option(envvar="DPS_NEW_USER_PASSWORD")
def create_user(email: str, role: str, organisation: str, full_name: str | None, password: str) -> None:
    settings = load_settings()
    try:
        user_id = run_async(settings, lambda sessions: create_user_with_role(
            sessions, settings, email=email, role=role, organisation_key=organisation,
            full_name=full_name or email.split("@", 1)[0], password=password))
    except DomainError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    console.print(f"Created user {user_id}: {email} as {role}.")


@main.command(help="Rebuild the search index from the database, with a progress bar.")
@click.option("--if-empty", is_flag=True,
              help="Only when the index holds no listing: a new index layout after an upgrade, or a new machine.")
def reindex(if_empty: bool) -> None:
    settings = load_settings()

    async def work(_sessions: Any) -> int | None:
        try:
            if if_empty and await wiring.search_index_holds_listings(settings):
                return None
            with Progress(TextColumn("Indexing listings"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=console) as bar:
                task = bar.add_task("index", total=None)
                return await wiring.rebuild_search_index(
                    settings, SystemClock().now(), on_total=lambda total: bar.update(task, total=total),
                    progress=lambda done: bar.advance(task, done))
        finally:
            await wiring.forget_search_index(settings)

    try:
        indexed = run_async(settings, work)
    except wiring.ListingReaderFailed as error:
        click.echo(f"Error: {error}. The search index is unchanged.", err=True)
        sys.exit(1)
    if indexed is None:
        console.print("The search index already holds listings: not rebuilt.")
    else:
        console.print(f"Search index rebuilt ({settings.search_backend}): {indexed} listings.")


@main.group("api-key", help="Keys for the public search API.")
def api_key() -> None:
    pass


@api_key.command("create", help="Create a key for NAME and print it once (only its hash is stored).")
@click.argument("name")
@click.option("--rate-limit", default=600, show_default=True, type=click.IntRange(min=1),
              help="Requests a minute allowed for this key.")
def api_key_create(name: str, rate_limit: int) -> None:
    settings = load_settings()

    async def work(sessions: Any) -> tuple[Any, str]:
        async with sessions() as session:
            return await create_api_key(session, name=name, actor=Actor.system("cli"), now=SystemClock().now(),
                                        rate_limit_per_minute=rate_limit)

    try:
        key, secret = run_async(settings, work)
    except DomainError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    console.print(f"Created API key {key.id} for {key.name} ({rate_limit} requests a minute). "
                  "Copy it now: it is not shown again.")
    click.echo(secret)


if __name__ == "__main__":
    main()

"""Fill a fresh database with a realistic marketplace for benchmarks; the same seed gives the same data.

    .venv/bin/python -m bench.generate --listings 100000 --suppliers 5000 --seed 1
    .venv/bin/python -m bench.generate --listings 2000 --database-url postgresql://postgres@127.0.0.1/dps_bench_x

How it is written:
- the schema and reference data (regions, ICBs, agreements, categories) by the product's migrations;
- organisations, users, memberships, applications and admissions (every state), listings and their first
  published version in batches through SQLAlchemy Core on the product's tables (the bulk path);
- funds and allocations, competitions in every state, awards with fund commitments, milestone payments and
  Stripe's payment events through the product's services, as the pages and the webhook would make them;
- the search index by the product's own rebuild (`dps reindex`); `bench.index` times it.
Audit events and changes-feed rows are written only by the services: the bulk rows have none.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import lifecycle, rows
from bench.database import (
    DEFAULT_WORK_DIR,
    Target,
    create_postgres_database,
    database_name,
    fresh_sqlite,
    with_database,
)
from bench.vocabulary import Vocabulary

console = Console()
DEFAULT_AS_OF = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
BATCH = 1000
# Tables the bulk path writes, in foreign-key order.
BULK_TABLES = ("organisation", "user_account", "membership", "application", "admission")
# Columns the product fills with random values on purpose (sealed bids: random data keys and nonces); left out of
# the fingerprint.
RANDOM_BY_DESIGN = {"bid": {"bidder_key", "sealed_content"}, "bid_data_key": {"wrapped_key"},
                    "outbox_message": {"payload"}}
UNFINGERPRINTED_TABLES = {"audit_event", "audit_checkpoint", "alembic_version"}


@dataclass(frozen=True)
class Sizes:
    listings: int
    suppliers: int
    competitions: int

    @property
    def trusts(self) -> int:
        return max(12, min(240, self.suppliers // 20))


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


def batches(items: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def prepare(target: Target, as_of: datetime) -> None:
    """A fresh, migrated database with the reference data, dated at the as-of instant."""
    from dps.migrate import upgrade_database

    if target.is_sqlite:
        fresh_sqlite(target)
    upgrade_database(target.settings())
    asyncio.run(_date_reference_rows(target, as_of))


async def _date_reference_rows(target: Target, as_of: datetime) -> None:
    """Reference data is stamped with the time of migration; the generator's data is stamped from the as-of
    instant, so a second run gives identical rows."""
    from dps.db import make_engine
    from dps.identity.models import Organisation

    engine = make_engine(target.settings().database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.update(Organisation.__table__).values(created_at=as_of - timedelta(days=900)))
    finally:
        await engine.dispose()


async def read_reference(connection: Any) -> rows.Reference:
    from catalogue.models import Listing, ListingVersion
    from dps.admission.models import Admission, Application
    from dps.agreements.models import Category
    from dps.identity.models import Membership, Organisation, User

    categories = dict((await connection.execute(sa.select(Category.slug, Category.id))).all())
    icbs = dict((await connection.execute(sa.select(Organisation.ods_code, Organisation.id)
                                          .where(Organisation.buyer_type == "icb"))).all())
    authority = await connection.scalar(sa.select(Organisation.id).where(Organisation.kind == "authority"))
    next_ids = {}
    for model in (Organisation, User, Membership, Application, Admission, Listing, ListingVersion):
        table = model.__table__
        next_ids[table.name] = int(await connection.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))))\
            + 1
    return rows.Reference(categories, icbs, int(authority), next_ids)


async def _insert(connection: Any, table: sa.Table, batch: list[dict[str, Any]]) -> None:
    """One executemany: every row must name the same columns, so missing ones are NULL."""
    if batch:
        columns = list(dict.fromkeys(key for row in batch for key in row))
        await connection.execute(table.insert(), [{column: row.get(column) for column in columns} for row in batch])


async def _reset_sequences(connection: Any, tables: Iterable[str]) -> None:
    """PostgreSQL: rows inserted with explicit ids leave the id sequence behind; move it past them."""
    if connection.dialect.name != "postgresql":
        return
    for name in tables:
        await connection.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), coalesce((SELECT max(id) FROM {name}), 0) + 1, "
            "false)"))


async def write_bulk(target: Target, sizes: Sizes, seed: int, as_of: datetime) -> tuple[rows.Population,
                                                                                         rows.Reference, int]:
    """The people and the catalogue, in batches on the product's tables. Returns how many listings are in search."""
    import dps.wiring  # noqa: F401 - registers every table
    from dps.db import make_engine, metadata

    rng = random.Random(seed)
    engine = make_engine(target.settings().database_url)
    in_search = 0
    try:
        async with engine.begin() as connection:
            reference = await read_reference(connection)
        population = rows.people(rng, reference, sizes.suppliers, sizes.trusts, as_of)
        with progress_bar() as bar:
            for name in BULK_TABLES:
                table_rows = population.rows.get(name, [])
                task = bar.add_task(f"Writing {name.replace('_', ' ')}s", total=len(table_rows))
                async with engine.begin() as connection:
                    for batch in batches(table_rows):
                        await _insert(connection, metadata.tables[name], batch)
                        bar.advance(task, len(batch))
            trust_names = [row["name"] for row in population.rows.get("organisation", []) if row["kind"] == "buyer"]
            task = bar.add_task("Writing listings and versions", total=sizes.listings)
            generated = rows.listings(random.Random(f"{seed}:listings"), Vocabulary.build(seed), population,
                                      reference, sizes.listings, as_of, trust_names)
            for batch in batches(generated):
                async with engine.begin() as connection:
                    await _insert(connection, metadata.tables["listing"], [listing for listing, _ in batch])
                    await _insert(connection, metadata.tables["listing_version"],
                                  [version for _, version in batch if version is not None])
                in_search += sum(1 for listing, _ in batch if listing["in_search"])
                bar.advance(task, len(batch))
        async with engine.begin() as connection:
            await _reset_sequences(connection, (*BULK_TABLES, "listing", "listing_version"))
    finally:
        await engine.dispose()
    return population, reference, in_search


async def run_services(target: Target, population: rows.Population, reference: rows.Reference, sizes: Sizes,
                       seed: int, as_of: datetime) -> dict[str, int]:
    """Funds, competitions, awards and payments through the product's services."""
    from dps.db import make_engine, make_sessionmaker
    from dps.outbox.models import OutboxMessage

    rng = random.Random(f"{seed}:services")
    engine = make_engine(target.settings().database_url)
    sessions = make_sessionmaker(engine)
    states: dict[str, int] = {}
    try:
        async with sessions() as session:
            allocations = await lifecycle.create_funds(session, authority_id=reference.authority_id,
                                                       icb_ids=sorted(reference.icb_ids.values()), as_of=as_of,
                                                       rng=rng)
            await session.commit()
        slug_of = {category_id: slug for slug, category_id in reference.category_ids.items()}
        categories = [category_id for category_id, suppliers in sorted(population.active_admissions.items())
                      if suppliers]
        with progress_bar() as bar:
            task = bar.add_task("Competitions through services", total=sizes.competitions)
            for number in range(sizes.competitions):
                final_state = rows.weighted(rng, lifecycle.FINAL_STATE_WEIGHTS)
                category_id = rng.choice(categories)
                trust, buyer, evaluator = rng.choice(population.trusts)
                suppliers = sorted(population.active_admissions[category_id])
                bidders = rng.sample(suppliers, min(len(suppliers), rng.randint(2, 4)))
                low, high = lifecycle.PUBLISHED_DAYS_AGO[final_state]
                published_at = as_of - timedelta(days=rng.randint(low, high), hours=rng.randint(0, 6))
                fund_backed = final_state == "awarded" and rng.random() < 0.7
                plan = lifecycle.Plan(
                    title=f"{slug_of[category_id].replace('-', ' ').capitalize()}: competition {number + 1}",
                    requirement="A service for the trust's patients, integrated with the electronic patient record.",
                    category_id=category_id, buyer_organisation_id=trust, final_state=final_state,
                    published_at=published_at,
                    fund_allocation_ids=tuple(rng.sample(allocations.open_to(population.trust_icb[trust]),
                                                         rng.randint(1, 2)))
                    if fund_backed else ())
                cast = lifecycle.Cast(buyer, evaluator,
                                      tuple(population.supplier_admin_user[supplier] for supplier in sorted(bidders)))
                async with sessions() as session:
                    await lifecycle.run_competition(session, plan, cast, rng, as_of)
                states[final_state] = states.get(final_state, 0) + 1
                bar.advance(task)
        async with sessions() as session:
            # History, not news: the emails those commands queued are not sent (as the demo data does).
            await session.execute(sa.update(OutboxMessage).where(OutboxMessage.processed_at.is_(None))
                                  .values(processed_at=as_of, last_error="generated history: not sent"))
            await session.commit()
    finally:
        await engine.dispose()
    return states


async def count_rows(target: Target) -> dict[str, int]:
    import dps.wiring  # noqa: F401 - registers every table
    from dps.db import make_engine, metadata

    engine = make_engine(target.settings().database_url)
    counts = {}
    try:
        async with engine.connect() as connection:
            for name in ("organisation", "user_account", "application", "admission", "listing", "listing_version",
                         "fund_allocation", "competition", "competition_invitation", "bid", "contract",
                         "fund_commitment", "milestone_payment", "audit_event", "outbox_message"):
                counts[name] = int(await connection.scalar(sa.select(sa.func.count()).select_from(
                    metadata.tables[name])))
            counts["listings in search"] = int(await connection.scalar(sa.text(
                "SELECT count(*) FROM listing WHERE in_search")))
    finally:
        await engine.dispose()
    return counts


async def fingerprint(target: Target) -> dict[str, str]:
    """A digest of every table's rows in id order (for checking that a seed gives the same data)."""
    import dps.wiring  # noqa: F401 - registers every table
    from dps.db import make_engine, metadata

    engine = make_engine(target.settings().database_url)
    digests = {}
    try:
        async with engine.connect() as connection:
            for name, table in sorted(metadata.tables.items()):
                if name in UNFINGERPRINTED_TABLES:
                    continue
                skip = RANDOM_BY_DESIGN.get(name, set())
                columns = [column for column in table.columns if column.name not in skip]
                order = [column for column in table.primary_key.columns]
                digest = hashlib.sha256()
                for row in (await connection.execute(sa.select(*columns).order_by(*order))).all():
                    digest.update(json.dumps(list(row), default=str, sort_keys=True).encode())
                digests[name] = digest.hexdigest()[:16]
    finally:
        await engine.dispose()
    return digests


def generate(target: Target, sizes: Sizes, seed: int, as_of: datetime = DEFAULT_AS_OF) -> dict[str, Any]:
    """Build the whole data set; returns counts and timings."""
    started = time.perf_counter()
    console.print(f"Generating {sizes.listings:,} listings, {sizes.suppliers:,} suppliers, {sizes.trusts} trusts and "
                  f"{sizes.competitions} competitions (seed {seed}) into {target.describe()}")
    prepare(target, as_of)
    population, reference, in_search = asyncio.run(write_bulk(target, sizes, seed, as_of))
    bulk_seconds = time.perf_counter() - started
    states = asyncio.run(run_services(target, population, reference, sizes, seed, as_of))
    counts = asyncio.run(count_rows(target))
    return {"counts": counts, "competition_states": states, "bulk_seconds": bulk_seconds,
            "seconds": time.perf_counter() - started, "in_search": in_search}


def target_from(database_url: str | None, work_dir: Path, admin_url: str | None = None) -> Target:
    """SQLite under the work directory by default; a PostgreSQL URL names a database to create (it must not
    exist yet)."""
    work_dir = work_dir.resolve()
    if not database_url or database_url.startswith("sqlite"):
        if database_url:
            return Target(database_url, work_dir)
        return Target.sqlite(work_dir)
    name = database_name(database_url)
    url = asyncio.run(create_postgres_database(admin_url or with_database(database_url, "postgres"), name))
    return Target(url, work_dir)


def print_summary(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="Generated data")
    table.add_column("rows")
    table.add_column("count", justify="right")
    for name, count in result["counts"].items():
        table.add_row(name.replace("_", " "), f"{count:,}")
    table.add_row("competitions by state", ", ".join(f"{k} {v}" for k, v in sorted(result["competition_states"]
                                                                                    .items())))
    console.print(table)
    console.print(f"Bulk rows in {result['bulk_seconds']:.1f} s; everything in {result['seconds']:.1f} s.")


def add_size_arguments(parser: argparse.ArgumentParser, *, listings: int, suppliers: int, competitions: int) -> None:
    parser.add_argument("--listings", type=int, default=listings, help="innovations to list (default %(default)s)")
    parser.add_argument("--suppliers", type=int, default=suppliers, help="supplier organisations (default %(default)s)")
    parser.add_argument("--competitions", type=int, default=competitions,
                        help="competitions run through the services (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="the same seed gives the same data (default 1)")
    parser.add_argument("--database-url", default=None,
                        help="sqlite:///PATH (default: dps.db in the work directory) or postgresql://.../NEW_DB")
    parser.add_argument("--work-dir", "--var-dir", type=Path, default=DEFAULT_WORK_DIR, dest="work_dir",
                        help="database, search index and results (default %(default)s, git-ignored)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_size_arguments(parser, listings=100_000, suppliers=5_000, competitions=40)
    parser.add_argument("--fingerprint", action="store_true", help="print a digest of every table afterwards")
    arguments = parser.parse_args()
    target = target_from(arguments.database_url, arguments.work_dir)
    result = generate(target, Sizes(arguments.listings, arguments.suppliers, arguments.competitions), arguments.seed)
    print_summary(result)
    if arguments.fingerprint:
        digests = asyncio.run(fingerprint(target))
        console.print_json(json.dumps(digests))
        overall = hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()[:16]
        console.print(f"Fingerprint of the data: {overall}")


if __name__ == "__main__":
    main()

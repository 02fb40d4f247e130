"""Awarded competitions for transparency tests, built through the competition services, and OCDS validation
with libcoveocds against the OCDS 1.1.5 standard kept in tests/data (offline)."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dps.competitions.services import awarding, evaluating
from dps.contracts.rules import default_milestones
from tests.factories import make_bid, make_competition_world, make_published_competition, signed_in

STANDARD_ZIP = Path(__file__).resolve().parent.parent / "data" / "ocds-standard-1__1__5.zip"
DEADLINE = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)


async def awarded_competition(db: Any, passwords: Any, clock: Any, *, prices: tuple[int, ...] = (90_000_00, 100_000_00),
                              vat: int = 0, world: Any = None, confirm: bool = True, deadline: datetime = DEADLINE,
                              standstill: bool = True, standstill_at: datetime | None = None,
                              **form: Any) -> tuple[Any, int]:
    """A competition published, bid on, evaluated, decided, and (if `standstill`) through standstill (started at
    `standstill_at` if given; under PA 2023 that publishes the contract award notice) and (if `confirm`) awarded,
    with the contract's default milestones. The first bidder wins (highest scores). Returns (world, competition
    id)."""
    world = world or await make_competition_world(db, passwords, clock)
    competition_id = await make_published_competition(db, clock, world=world, **form)
    bids = [await make_bid(db, clock, party=party, competition_id=competition_id, price_pence=price, vat_pence=vat,
                           answers={"q1": "Outcomes.", "q2": "Carbon plan.", "q3": "Apprentices."})
            for party, price in zip(world.bidders, prices, strict=False)]
    if clock.now() <= deadline:
        clock.set(deadline + timedelta(minutes=1))
    buyer = await signed_in(db, world.buyer.user)
    await evaluating.start_evaluation(db, buyer, competition_id, clock.now())
    evaluators = [await signed_in(db, user) for user in world.evaluators]
    for evaluator in evaluators:
        await evaluating.declare_interest(db, evaluator, competition_id, conflict=False, note="", now=clock.now())
    for rank, bid_id in enumerate(bids):
        for key, top in (("q1", 5), ("q2", 5), ("q3", 10)):
            score = str(max(top - 2 * rank, 0))
            for evaluator in evaluators:
                await evaluating.score_answer(db, evaluator, competition_id, bid_id, key, score=score,
                                            justification="Scored", now=clock.now())
            await evaluating.moderate(db, buyer, competition_id, bid_id, key, score=score, rationale="Agreed",
                                    now=clock.now())
    clock.advance(timedelta(days=1))
    await awarding.decide_award(db, buyer, competition_id, reasons="Highest total score", now=clock.now())
    if not standstill:
        await db.commit()
        return world, competition_id
    if standstill_at is not None:
        clock.set(standstill_at)
    else:
        clock.advance(timedelta(hours=1))
    competition = await awarding.start_standstill(db, buyer, competition_id, clock.now())
    if confirm:
        clock.set(competition.standstill_ends_at + timedelta(days=1))  # the standstill has ended
        _, total = await awarding.award_value(db, competition)
        await awarding.confirm_award(db, buyer, competition_id, fund_lines=[], now=clock.now(),
                                     milestones=default_milestones(total, competition.contract_starts_on,
                                                                   competition.contract_ends_on))
    await db.commit()
    return world, competition_id


def validate_package(package: dict[str, Any]) -> dict[str, Any]:
    """libcoveocds's checks of a release package against OCDS 1.1.5, offline. Returns its result."""
    from libcoveocds.api import ocds_json_output
    from libcoveocds.config import LibCoveOCDSConfig

    config = LibCoveOCDSConfig()
    config.config["standard_zip"] = f"file://{STANDARD_ZIP}"
    config.config["context"] = "api"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "package.json"
        path.write_text(json.dumps(package))
        return ocds_json_output(directory, str(path), schema_version="1.1", convert=False, json_data=package,
                                lib_cove_ocds_config=config, record_pkg=False)


def assert_valid(package: dict[str, Any]) -> dict[str, Any]:
    result = validate_package(package)
    assert result["validation_errors"] == [], json.dumps(result["validation_errors"], indent=1)[:4000]
    assert result["additional_closed_codelist_values"] == {}, result["additional_closed_codelist_values"]
    return result

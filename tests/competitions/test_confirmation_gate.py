"""Award confirmations pass a gate: at most CONFIRMATIONS_AT_ONCE run at a time in one event loop, the rest wait
before they touch the database; a caller whose transaction is already open never waits there (it may hold what
the confirmations inside need)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dps.competitions.services import awarding


class Session:
    def __init__(self, open_transaction: bool) -> None:
        self.open_transaction = open_transaction

    def in_transaction(self) -> bool:
        return self.open_transaction


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replaces the confirmation's work with one that records how many run at once and waits to be released."""
    state: dict[str, Any] = {"now": 0, "most": 0, "release": asyncio.Event(), "started": 0}

    async def confirmation(session: Any, user: Any, competition_id: int, **_: Any) -> int:
        state["now"] += 1
        state["started"] += 1
        state["most"] = max(state["most"], state["now"])
        await state["release"].wait()
        state["now"] -= 1
        return competition_id

    monkeypatch.setattr(awarding, "_confirm_award", confirmation)
    return state


async def _settle() -> None:
    for _ in range(20):  # let every task run up to where it waits
        await asyncio.sleep(0)


def confirm(number: int, *, open_transaction: bool = False) -> asyncio.Task[Any]:
    session: Any = Session(open_transaction)
    return asyncio.create_task(awarding.confirm_award(session, Any, number, fund_lines=[], milestones=[], now=Any))


async def test_no_more_than_the_gate_allows_run_at_once(running: dict[str, Any]) -> None:
    tasks = [confirm(number) for number in range(10)]
    await _settle()
    assert running["started"] == awarding.CONFIRMATIONS_AT_ONCE  # the others wait at the gate
    running["release"].set()
    assert sorted(await asyncio.gather(*tasks)) == list(range(10))  # every one goes through, in the end
    assert running["most"] == awarding.CONFIRMATIONS_AT_ONCE


async def test_a_caller_with_an_open_transaction_does_not_wait_at_the_gate(running: dict[str, Any]) -> None:
    inside = [confirm(number) for number in range(awarding.CONFIRMATIONS_AT_ONCE + 1)]
    await _settle()
    holding = confirm(99, open_transaction=True)
    await _settle()
    assert running["started"] == awarding.CONFIRMATIONS_AT_ONCE + 1  # the gate is full, and it went in all the same
    running["release"].set()
    await asyncio.gather(*inside, holding)

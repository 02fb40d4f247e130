"""Pure rules for payments: how a milestone's amount is split over the contract's fund lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def split_over_lines(amount: int, lines: Sequence[Mapping[str, Any]]) -> list[dict[str, int]]:
    """Split `amount` pence over fund lines in proportion to each line's pence (largest remainder), so the
    parts sum to `amount` exactly. Lines are [{"allocation_id": int, "pence": int}, ...]; empty gives []."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    total = sum(int(line["pence"]) for line in lines)
    if not lines or total <= 0:
        return []
    floors = [amount * int(line["pence"]) // total for line in lines]
    remainders = sorted(range(len(lines)), key=lambda i: (-(amount * int(lines[i]["pence"]) % total), i))
    for index in remainders[: amount - sum(floors)]:
        floors[index] += 1
    return [{"allocation_id": int(line["allocation_id"]), "pence": pence}
            for line, pence in zip(lines, floors, strict=True) if pence > 0]

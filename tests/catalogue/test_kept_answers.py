"""Answers kept until the index's next commit: dropped when the reader moves on, never kept for a generation that
has passed, least recently used out first within the budget."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from catalogue.search.kept_answers import KeptAnswers


def test_an_answer_is_kept_for_its_generation_only():
    kept: KeptAnswers[str] = KeptAnswers(budget=10)
    kept.move_to("generation 1")
    assert kept.keep("generation 1", "remote monitoring", "answer 1")
    assert kept.get("remote monitoring", "generation 1") == "answer 1"
    assert kept.get("remote monitoring", "generation 2") is None  # asked for a commit the reader has not loaded

    kept.move_to("generation 2")  # a commit: everything kept for the old generation goes
    assert kept.get("remote monitoring", "generation 1") is None
    assert kept.get("remote monitoring", "generation 2") is None
    assert not kept.keep("generation 1", "remote monitoring", "late answer")  # computed before the commit
    assert kept.get("remote monitoring", "generation 2") is None and kept.spent == 0


def test_the_least_recently_used_leave_first_within_the_budget():
    kept: KeptAnswers[str] = KeptAnswers(budget=10)
    kept.move_to(1)
    kept.keep(1, "a", "A", cost=4)
    kept.keep(1, "b", "B", cost=4)
    assert kept.get("a", 1) == "A"  # "b" is now the least recently used
    kept.keep(1, "c", "C", cost=4)
    assert (kept.get("a", 1), kept.get("b", 1), kept.get("c", 1)) == ("A", None, "C")
    assert kept.spent == 8
    assert not kept.keep(1, "huge", "H", cost=11)  # larger than the whole budget: not kept, nothing dropped
    assert kept.spent == 8 and kept.get("a", 1) == "A"


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(1, 6), st.booleans()), max_size=60))
def test_the_budget_is_never_exceeded_and_a_kept_answer_is_the_last_given_for_its_key(steps):
    kept: KeptAnswers[int] = KeptAnswers(budget=12)
    generation = 0
    kept.move_to(generation)
    last: dict[str, int] = {}
    for number, (key, cost, commit) in enumerate(steps):
        if commit:
            generation += 1
            kept.move_to(generation)
            last.clear()
        kept.keep(generation, key, number, cost)
        last[key] = number
        assert kept.spent <= kept.budget
        for name, answer in last.items():
            assert kept.get(name, generation) in (None, answer)

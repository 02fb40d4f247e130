"""The pure competition rules: state machines, criteria (C3, C4), tender period (C2), scoring, ranking, standstill
(C8), award notice flags (C9, C10) and fund splits. Hypothesis checks the invariants."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dps.competitions.forms import parse_bid_form, parse_competition_form
from dps.competitions.rules import (
    BIDS,
    CLOSING_GRACE,
    COMPETITIONS,
    DEFAULT_TIE_BREAK,
    TIE_BREAK_WORDING,
    BidEvent,
    BidForScoring,
    BidState,
    CompetitionEvent,
    CompetitionState,
    Criterion,
    CriterionKind,
    Departure,
    FundLine,
    ScoredBid,
    ShownStatus,
    TieBreak,
    award_notice_due,
    award_winner,
    bid_problems,
    bids_open,
    can_confirm_award,
    check_fund_split,
    check_publication,
    check_refinement,
    check_rule_settings,
    check_score,
    clean_kpis,
    compare_bids,
    competition_timeline,
    contract_notice_name,
    contract_notice_needs,
    count_words,
    criteria_problems,
    departure_reason,
    display_score,
    exclusion_reason,
    is_due_to_close,
    minimum_tender_days,
    needs_contracts_finder,
    next_bid_state,
    next_competition_state,
    notice_overdue,
    parse_london_deadline,
    price_score,
    proportional_split,
    quality_score,
    rank_bids,
    ranking_key,
    resumed_standstill_end,
    score_bids,
    shorter_period_problem,
    shorter_tender_period_allowed,
    shown_status,
    standstill_ends,
    standstill_starts_with_notice,
    tender_days_setting_problem,
    tie_break_of,
    validate_criteria,
)
from dps.errors import Conflict, IllegalTransition, ValidationFailed
from dps.exclusion.rules import Standing

S, E = CompetitionState, CompetitionEvent


def criteria(price: int = 40, quality: int = 45, net_zero: int = 10, social: int = 5) -> list[Criterion]:
    rows = [Criterion("price", CriterionKind.PRICE, "Price", price),
            Criterion("q1", CriterionKind.QUALITY, "Clinical outcomes", quality, "How will outcomes improve?", 5, 500)]
    if net_zero:
        rows.append(Criterion("q2", CriterionKind.NET_ZERO, "Net zero", net_zero, "Your carbon plan?", 5, 300))
    if social:
        rows.append(Criterion("q3", CriterionKind.SOCIAL_VALUE, "Social value", social, "Local jobs?", 10, 300))
    return rows


# --- the competition state machine ----------------------------------------------------------------------


def test_the_happy_path_runs_draft_to_awarded():
    state = S.DRAFT
    for event in (E.PUBLISH, E.CLOSE, E.START_EVALUATION, E.DECIDE_AWARD, E.START_STANDSTILL, E.CONFIRM_AWARD):
        state = next_competition_state(state, event)
    assert state is S.AWARDED
    assert COMPETITIONS.is_terminal(S.AWARDED) and COMPETITIONS.is_terminal(S.CANCELLED)


@pytest.mark.parametrize("state", [S.DRAFT, S.PUBLISHED, S.CLOSED, S.EVALUATION, S.AWARD_DECIDED, S.STANDSTILL])
def test_cancel_is_allowed_from_every_state_before_awarded(state):
    assert next_competition_state(state, E.CANCEL) is S.CANCELLED


def test_every_other_transition_is_an_illegal_transition_with_a_readable_message():
    legal = {(S.DRAFT, E.PUBLISH), (S.PUBLISHED, E.CLOSE), (S.CLOSED, E.START_EVALUATION),
             (S.EVALUATION, E.DECIDE_AWARD), (S.AWARD_DECIDED, E.START_STANDSTILL), (S.STANDSTILL, E.CONFIRM_AWARD),
             (S.AWARD_DECIDED, E.WITHDRAW_AWARD), (S.STANDSTILL, E.WITHDRAW_AWARD)}
    legal |= {(s, E.CANCEL) for s in S if s not in (S.AWARDED, S.CANCELLED)}
    for state, event in itertools.product(S, E):
        if (state, event) in legal:
            continue
        with pytest.raises(IllegalTransition) as refused:
            next_competition_state(state, event)
        assert str(refused.value).startswith("A competition that is ")
    with pytest.raises(IllegalTransition, match="A competition that is awarded cannot be cancelled"):
        next_competition_state("awarded", "cancel")


def test_bids_can_be_submitted_revised_withdrawn_and_submitted_again():
    state = next_bid_state(BidState.DRAFT, BidEvent.SUBMIT)
    assert next_bid_state(state, BidEvent.REVISE) is BidState.SUBMITTED
    withdrawn = next_bid_state(state, BidEvent.WITHDRAW)
    assert next_bid_state(withdrawn, BidEvent.SUBMIT) is BidState.SUBMITTED
    assert next_bid_state(withdrawn, BidEvent.REOPEN) is BidState.DRAFT
    with pytest.raises(IllegalTransition, match="A bid that is a draft cannot be withdrawn"):
        next_bid_state(BidState.DRAFT, BidEvent.WITHDRAW)
    assert BIDS.allowed_events(BidState.DRAFT) == {BidEvent.SUBMIT}


# --- criteria (C3, C4) ----------------------------------------------------------------------------------


def test_valid_criteria_have_no_problems():
    assert not criteria_problems(criteria())
    validate_criteria(criteria())


def test_weights_must_sum_to_100():
    problems = criteria_problems(criteria(price=41))
    assert problems.message("criteria") == "The weights must add up to 100%: they add up to 101%"


def test_exactly_one_price_criterion():
    no_price = criteria()[1:]
    no_price[0] = Criterion("q1", CriterionKind.QUALITY, "Clinical outcomes", 85, "Q?", 5, 500)
    assert criteria_problems(no_price).message("price-weight") == "Include exactly one price criterion"
    two = [*criteria(price=20), Criterion("price2", CriterionKind.PRICE, "Price again", 20)]
    assert "price-weight" in criteria_problems(two)


def test_net_zero_and_social_value_together_carry_at_least_ten_percent():
    assert not criteria_problems(criteria(quality=50, net_zero=5, social=5))
    assert not criteria_problems(criteria(quality=50, net_zero=10, social=0))
    problems = criteria_problems(criteria(quality=51, net_zero=5, social=4))
    assert "at least 10% of the total weight together: they carry 9%" in problems.message("criteria")


@pytest.mark.parametrize(("change", "field"), [
    ({"max_score": None}, "q1-max_score"), ({"max_score": 0}, "q1-max_score"), ({"word_limit": None}, "q1-word_limit"),
    ({"word_limit": 0}, "q1-word_limit"), ({"question": " "}, "q1-question"), ({"title": ""}, "q1-title"),
])
def test_each_quality_question_needs_wording_a_maximum_score_and_a_word_limit(change, field):
    rows = criteria()
    original = rows[1]
    rows[1] = Criterion(**{**original.__dict__, **change})
    assert field in criteria_problems(rows)


def test_a_zero_weight_is_refused():
    rows = criteria(price=0, quality=85)
    assert criteria_problems(rows).message("price-weight").endswith("a weight from 1 to 100")


@given(st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=6),
       st.integers(min_value=1, max_value=100), st.integers(min_value=0, max_value=60))
def test_weights_property_valid_exactly_when_they_sum_to_100_with_c4(quality_weights, price_weight, c4_weight):
    rows = [Criterion("price", CriterionKind.PRICE, "Price", price_weight)]
    rows += [Criterion(f"q{i}", CriterionKind.QUALITY, f"Q{i}", w, "?", 5, 100) for i, w in enumerate(quality_weights)]
    if c4_weight:
        rows.append(Criterion("nz", CriterionKind.NET_ZERO, "Net zero", c4_weight, "?", 5, 100))
    total = price_weight + sum(quality_weights) + c4_weight
    problems = criteria_problems(rows)
    assert (not problems) == (total == 100 and c4_weight >= 10)
    if total != 100:
        assert problems.message("criteria").startswith("The weights must add up to 100%")


def test_after_publication_wording_may_become_more_precise_but_nothing_else():
    published = criteria()
    clearer = [Criterion(c.key, c.kind, c.title + " (clarified)", c.weight, c.question + " Include data.", c.max_score,
                         c.word_limit) if not c.is_price else c for c in published]
    check_refinement(published, clearer)
    reweighted = [*published]
    reweighted[1] = Criterion("q1", CriterionKind.QUALITY, "Clinical outcomes", 44, "?", 5, 500)
    reweighted[0] = Criterion("price", CriterionKind.PRICE, "Price", 41)
    added = [*published, Criterion("q9", CriterionKind.QUALITY, "New", 1, "?", 5, 10)]
    rescored = [*published[:1], Criterion("q1", CriterionKind.QUALITY, "Clinical outcomes", 45, "?", 10, 500),
                *published[2:]]
    longer = [*published[:1], Criterion("q1", CriterionKind.QUALITY, "Clinical outcomes", 45, "?", 5, 900),
              *published[2:]]
    for changed in (reweighted, added, rescored, longer, published[:-1]):
        with pytest.raises(Conflict, match=r"fixed when the competition was published: they can be made more precise"):
            check_refinement(published, changed)


# --- tender period (C2) and deadlines ------------------------------------------------------------------


LONDON = ZoneInfo("Europe/London")
PCR, PA = "pcr2015_dps", "pa2023_dynamic_market"


def test_c2_an_agreement_setting_can_lengthen_the_period_never_shorten_it():
    for regime in (PCR, PA):
        assert minimum_tender_days(regime, {}) == 10
        assert minimum_tender_days(regime, None) == 10
        assert minimum_tender_days(regime, {"minimum_tender_days": 25}) == 25
        assert minimum_tender_days(regime, {"minimum_tender_days": "15"}) == 15
        # Below the floor, or not a whole number of days: read as the floor, never as a shorter period.
        for bad in (0, 1, 9, -5, "3", "", "ten", 2.5, None, True, [], {"days": 3}):
            assert minimum_tender_days(regime, {"minimum_tender_days": bad}) == 10, bad
    with pytest.raises(ValueError):
        minimum_tender_days("gcloud", {})


def test_c2_a_setting_below_the_floor_is_refused_where_it_is_written():
    for regime in (PCR, PA):
        for days in (0, 1, 9, "9", -1, "ten", None, True, 366):
            assert tender_days_setting_problem(regime, days), days
            with pytest.raises(ValidationFailed) as refused:
                check_rule_settings(regime, {"minimum_tender_days": days})
            assert refused.value.field == "minimum_tender_days"
            assert "(C2)" not in str(refused.value)
        for days in (10, 11, 30, "21", 365):
            assert tender_days_setting_problem(regime, days) is None
            check_rule_settings(regime, {"minimum_tender_days": days})
        check_rule_settings(regime, {"refresh_response_working_days": 5})
    assert tender_days_setting_problem(PCR, 3) == ("The minimum tender period cannot be shorter than 10 days, the "
                                                  "least the law allows: an agreement can only make it longer")


def _publish(now, tender, *, days=10, regime=PCR, invited=None, agreed=frozenset()):
    check_publication(now=now, clarification_deadline=now + timedelta(hours=2), tender_deadline=tender,
                      minimum_days=days, regime=regime, invited=invited, agreed=agreed)


def test_c2_worked_example_published_at_two_pm_on_1_june_the_deadline_is_no_earlier_than_the_end_of_11_june():
    now = datetime(2026, 6, 1, 14, 0, tzinfo=LONDON)
    for too_early in (datetime(2026, 6, 11, 14, 0, tzinfo=LONDON),  # 240 hours: the old count
                      datetime(2026, 6, 11, 23, 59, 58, tzinfo=LONDON)):
        with pytest.raises(ValidationFailed) as refused:
            _publish(now, too_early)
        assert refused.value.field == "tender_deadline"
        assert str(refused.value) == (
            "The tender deadline must be at least 10 full days after the invitation: if you publish now, suppliers "
            "must be able to bid until the end of Thursday 11 June 2026, so the deadline can be no earlier than "
            "11:59pm on Thursday 11 June 2026.")
    _publish(now, datetime(2026, 6, 11, 23, 59, 59, tzinfo=LONDON))
    _publish(now, datetime(2026, 6, 12, 0, 0, tzinfo=LONDON))
    _publish(now, datetime(2026, 6, 12, 12, 0, tzinfo=LONDON))


def test_c2_the_tender_deadline_must_be_at_least_ten_full_days_after_publication():
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    _publish(now, datetime(2026, 1, 15, 23, 59, 59, tzinfo=UTC))
    with pytest.raises(ValidationFailed) as refused:
        _publish(now, datetime(2026, 1, 15, 23, 59, 58, tzinfo=UTC))
    assert "no earlier than 11:59pm on Thursday 15 January 2026" in str(refused.value)
    assert "(C2)" not in str(refused.value)


def test_c2_no_minimum_below_the_floor_passes_publication_and_a_longer_one_is_kept():
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    for days in (0, 1, 9, -3):
        with pytest.raises(ValidationFailed, match="at least 10 full days"):
            _publish(now, now + timedelta(hours=3), days=days)
        with pytest.raises(ValidationFailed, match="at least 10 full days"):
            _publish(now, datetime(2026, 1, 15, 23, 59, tzinfo=UTC), days=days, regime=PA)
    with pytest.raises(ValidationFailed) as refused:
        _publish(now, datetime(2026, 1, 20, 12, 0, tzinfo=UTC), days=15)
    assert "at least 15 full days" in str(refused.value) and "11:59pm on Tuesday 20 January 2026" in str(refused.value)
    _publish(now, datetime(2026, 1, 20, 23, 59, 59, tzinfo=UTC), days=15)


def test_c2_a_shorter_period_needs_pcr_2015_and_every_invited_suppliers_agreement():
    invited = {1: "Acme Health Ltd", 2: "Brightwell Medical Ltd", 3: "Carewave Digital Ltd"}
    assert shorter_tender_period_allowed(PCR, invited, {1, 2, 3})
    assert shorter_tender_period_allowed(PCR, set(invited), {1, 2, 3, 4})  # agreement of one not invited is moot
    assert not shorter_tender_period_allowed(PCR, invited, {1, 2})
    assert not shorter_tender_period_allowed(PCR, invited, set())
    assert not shorter_tender_period_allowed(PCR, {}, {1})  # nobody invited: nobody agreed
    assert not shorter_tender_period_allowed(PA, invited, {1, 2, 3})  # no such exception in a dynamic market
    assert shorter_period_problem(PCR, invited, {2}) == (
        "A shorter tender period needs the agreement of every supplier invited: 1 of 3 have agreed to this deadline; "
        "not yet Acme Health Ltd and Carewave Digital Ltd")
    assert "Procurement Act 2023" in (shorter_period_problem(PA, invited, {1, 2, 3}) or "")


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([PCR, PA]), st.sets(st.integers(1, 12)), st.sets(st.integers(1, 12)))
def test_c2_property_a_shorter_period_is_allowed_exactly_when_every_invited_supplier_agreed(regime, invited,
                                                                                           agreed):
    expected = regime == PCR and bool(invited) and invited <= agreed
    assert shorter_tender_period_allowed(regime, invited, agreed) is expected


def test_c2_publication_with_a_shorter_period_by_agreement():
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    three_days = datetime(2026, 1, 8, 12, 0, tzinfo=UTC)
    invited = {1: "Acme Health Ltd", 2: "Brightwell Medical Ltd"}
    _publish(now, three_days, invited=invited, agreed={1, 2})
    with pytest.raises(ValidationFailed) as refused:
        _publish(now, three_days, invited=invited, agreed={1})
    assert "at least 10 full days" in str(refused.value) and "not yet Brightwell Medical Ltd" in str(refused.value)
    with pytest.raises(ValidationFailed, match="Procurement Act 2023"):
        _publish(now, three_days, regime=PA, invited=invited, agreed={1, 2})
    # Agreement never lets a deadline in the past through.
    with pytest.raises(ValidationFailed, match="already passed"):
        _publish(now, now, invited=invited, agreed={1, 2})


def test_the_clarification_deadline_is_in_the_future_and_before_the_tender_deadline():
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    tender = now + timedelta(days=14)
    for clarification in (now, now - timedelta(hours=1), tender, tender + timedelta(hours=1)):
        with pytest.raises(ValidationFailed) as refused:
            check_publication(now=now, clarification_deadline=clarification, tender_deadline=tender, minimum_days=10,
                              regime=PCR)
        assert refused.value.field == "clarification_deadline"


def test_bids_are_open_strictly_before_the_deadline_and_it_closes_after_the_grace_for_bids_in_flight():
    deadline = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
    assert bids_open(deadline, deadline - timedelta(microseconds=1))
    assert not bids_open(deadline, deadline)
    # A bid received before the deadline may still be being stored: the competition stays open to it a while.
    assert not is_due_to_close("published", deadline, deadline)
    assert not is_due_to_close("published", deadline, deadline + CLOSING_GRACE - timedelta(microseconds=1))
    assert is_due_to_close("published", deadline, deadline + CLOSING_GRACE)
    assert not is_due_to_close("draft", deadline, deadline + timedelta(days=1))


def test_deadlines_are_london_wall_clock_times_stored_in_utc():
    summer = parse_london_deadline({"d-day": "15", "d-month": "6", "d-year": "2026", "d-time": "12:00"}, "d", "x")
    winter = parse_london_deadline({"d-day": "15", "d-month": "1", "d-year": "2026", "d-time": "9.30"}, "d", "x")
    assert summer == datetime(2026, 6, 15, 11, 0, tzinfo=UTC)
    assert winter == datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    with pytest.raises(ValidationFailed) as refused:
        parse_london_deadline({"d-day": "31", "d-month": "2", "d-year": "2026", "d-time": "12:00"}, "d", "x")
    assert refused.value.field == "d"
    with pytest.raises(ValidationFailed) as refused:
        parse_london_deadline({"d-day": "1", "d-month": "2", "d-year": "2026", "d-time": "25:00"}, "d", "x")
    assert refused.value.field == "d-time"


# --- words and bids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "words"), [
    ("", 0), ("   ", 0), ("one", 1), ("two  words", 2), ("line\nbreaks\tand tabs", 4),
    ("state-of-the-art care", 2), ("£1,000 per patient.", 3), ("  leading and trailing  ", 3),
])
def test_word_counting(text, words):
    assert count_words(text) == words


@given(st.lists(st.text(alphabet="abcdefghij-.,'", min_size=1, max_size=8), max_size=40),
       st.sampled_from([" ", "  ", "\n", "\t", " \n "]))
def test_word_count_is_the_number_of_words_joined_by_any_whitespace(words, separator):
    assert count_words(separator.join(words)) == len(words)


def test_a_draft_is_held_to_word_limits_only_and_a_submission_to_everything():
    rows = criteria()
    answers = {"q1": "word " * 501, "q2": "", "q3": "fine"}
    draft = bid_problems(rows, answers, None, complete=False)
    assert draft.messages == {"answer-q1": "Your answer to Clinical outcomes has 501 words: the limit is 500"}
    full = bid_problems(rows, answers, None, complete=True)
    assert set(full) == {"answer-q1", "answer-q2", "price"}
    assert not bid_problems(rows, {"q1": "a", "q2": "b", "q3": "c"}, 1, complete=True)
    assert "price" in bid_problems(rows, {"q1": "a", "q2": "b", "q3": "c"}, 0, complete=True)


def test_the_bid_form_reads_pounds_as_pence():
    form = parse_bid_form({"answer-q1": " yes ", "price": "£12,345.50", "vat": "2469.10"}, criteria())
    assert (form.answers["q1"], form.price_pence, form.vat_pence) == ("yes", 1234550, 246910)
    assert parse_bid_form({"price": "12,34"}, criteria()).errors.message("price").startswith("Enter the price")


# --- scoring and ranking --------------------------------------------------------------------------------


def test_price_score_is_lowest_over_price_times_weight():
    assert price_score(100_00, 100_00, 40) == 40
    assert price_score(100_00, 200_00, 40) == 20
    assert price_score(100_00, 300_00, 40) == Fraction(40, 3)
    with pytest.raises(ValueError):
        price_score(200, 100, 40)
    with pytest.raises(ValueError):
        price_score(0, 100, 40)


@given(st.integers(min_value=1, max_value=10**12), st.integers(min_value=0, max_value=10**12),
       st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=100))
def test_price_score_bounds_and_monotonicity(lowest, extra_a, extra_b, weight):
    a, b = lowest + extra_a, lowest + extra_a + extra_b
    score_a, score_b = price_score(lowest, a, weight), price_score(lowest, b, weight)
    assert 0 < score_b <= score_a <= weight
    assert (score_a == weight) == (a == lowest)
    assert (score_a == score_b) == (a == b)


@given(st.integers(min_value=1, max_value=100), st.data())
def test_quality_score_is_score_over_maximum_times_weight(max_score, data):
    weight = data.draw(st.integers(min_value=1, max_value=100))
    score = data.draw(st.integers(min_value=0, max_value=max_score))
    value = quality_score(score, max_score, weight)
    assert 0 <= value <= weight and value == Fraction(score * weight, max_score)
    with pytest.raises(ValueError):
        quality_score(max_score + 1, max_score, weight)


def test_check_score_accepts_whole_numbers_within_the_maximum():
    question = criteria()[1]
    assert check_score(" 5 ", question, "f") == 5
    for bad in ("6", "-1", "2.5", "", "five"):
        with pytest.raises(ValidationFailed, match="from 0 to 5"):
            check_score(bad, question, "f")


T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def test_totals_and_ranking_of_a_worked_example():
    rows = criteria()  # price 40; q1 45 (max 5); q2 10 (max 5); q3 5 (max 10)
    bids = [BidForScoring(1, 100_000_00, T0, {"q1": 3, "q2": 5, "q3": 10}),
            BidForScoring(2, 80_000_00, T0, {"q1": 4, "q2": 2, "q3": 5})]
    first, second = score_bids(rows, bids)
    assert first.price_score == 32 and first.quality_score == 27 + 10 + 5 and first.total == 74
    assert second.price_score == 40 and second.quality_score == 36 + 4 + Fraction(5, 2)
    assert second.total == Fraction(165, 2)
    assert [r.scored.bid_id for r in rank_bids([first, second])] == [2, 1]
    assert display_score(second.total) == "82.50" and display_score(Fraction(200, 3)) == "66.67"


def test_a_tie_on_total_goes_to_the_higher_quality_score_then_the_earlier_submission_then_the_lower_id():
    quality = ScoredBid(5, 200, T0, Fraction(20), {"q1": Fraction(50)})
    cheap = ScoredBid(4, 100, T0, Fraction(40), {"q1": Fraction(30)})
    assert quality.total == cheap.total
    assert [r.scored.bid_id for r in rank_bids([cheap, quality])] == [5, 4]
    early = ScoredBid(9, 100, T0, Fraction(40), {"q1": Fraction(30)})
    late = ScoredBid(3, 100, T0 + timedelta(seconds=1), Fraction(40), {"q1": Fraction(30)})
    assert [r.scored.bid_id for r in rank_bids([late, early])] == [9, 3]
    same_time = ScoredBid(8, 100, T0, Fraction(40), {"q1": Fraction(30)})
    assert [r.scored.bid_id for r in rank_bids([early, same_time])] == [8, 9]


scored_bids = st.builds(
    ScoredBid,
    bid_id=st.integers(min_value=1, max_value=10_000),
    price_pence=st.integers(min_value=1, max_value=10**9),
    submitted_at=st.integers(min_value=0, max_value=5).map(lambda s: T0 + timedelta(seconds=s)),
    price_score=st.integers(min_value=0, max_value=8).map(lambda n: Fraction(n * 5)),
    question_scores=st.dictionaries(st.sampled_from(["q1", "q2"]),
                                    st.integers(min_value=0, max_value=6).map(lambda n: Fraction(n * 5, 2)),
                                    min_size=2, max_size=2),
)


def _distinct(bids):
    return {bid.bid_id: bid for bid in bids}.values()


@settings(max_examples=200)
@given(st.lists(scored_bids, min_size=1, max_size=8))
def test_ranking_is_a_strict_total_order(bids):
    bids = list(_distinct(bids))
    for a, b in itertools.product(bids, repeat=2):
        assert compare_bids(a, b) == -compare_bids(b, a)  # antisymmetric
        assert (compare_bids(a, b) == 0) == (a.bid_id == b.bid_id)  # total: only a bid ties with itself
    for a, b, c in itertools.product(bids, repeat=3):
        if compare_bids(a, b) < 0 and compare_bids(b, c) < 0:
            assert compare_bids(a, c) < 0  # transitive
    ranked = rank_bids(bids)
    assert [r.rank for r in ranked] == list(range(1, len(bids) + 1))
    for better, worse in itertools.pairwise(ranked):
        assert compare_bids(better.scored, worse.scored) < 0
        assert better.scored.total >= worse.scored.total
    assert rank_bids(list(reversed(bids))) == ranked  # input order does not matter


@given(st.lists(scored_bids, min_size=2, max_size=6))
def test_the_top_bid_has_the_highest_total_and_among_equals_the_highest_quality(bids):
    bids = list(_distinct(bids))
    top = rank_bids(bids)[0].scored
    best_total = max(b.total for b in bids)
    assert top.total == best_total
    assert top.quality_score == max(b.quality_score for b in bids if b.total == best_total)
    assert ranking_key(top) == min(ranking_key(b) for b in bids)


def test_c7_the_award_goes_to_the_first_ranked_bid_and_no_choice_of_another_is_possible():
    ranked = rank_bids([ScoredBid(1, 100, T0, Fraction(40)), ScoredBid(2, 200, T0, Fraction(20))])
    assert award_winner(ranked).scored.bid_id == 1
    assert award_winner(ranked, excluded={1}).scored.bid_id == 2  # the first-ranked bidder excluded or withdrew
    assert award_winner(ranked, excluded={1, 2}) is None  # nobody left: the buyer can only cancel
    assert award_winner([]) is None
    assert "override_reason" not in award_winner.__code__.co_varnames  # no free-text override


def test_c7_a_tie_on_total_and_quality_goes_to_the_lower_price_by_the_published_rule():
    dear = ScoredBid(1, 300, T0, Fraction(30), {"q1": Fraction(40)})
    cheap = ScoredBid(2, 200, T0 + timedelta(hours=1), Fraction(30), {"q1": Fraction(40)})
    assert dear.total == cheap.total and dear.quality_score == cheap.quality_score
    # the earlier submission (and the lower bid id) would favour `dear`: the published rule puts price first
    assert [r.scored.bid_id for r in rank_bids([dear, cheap], TieBreak.QUALITY_THEN_PRICE)] == [2, 1]
    assert tie_break_of(None) is DEFAULT_TIE_BREAK is TieBreak.QUALITY_THEN_PRICE
    assert tie_break_of("quality_then_price") is TieBreak.QUALITY_THEN_PRICE
    assert "higher quality score" in TIE_BREAK_WORDING[DEFAULT_TIE_BREAK]
    assert "lower price" in TIE_BREAK_WORDING[DEFAULT_TIE_BREAK]


@settings(max_examples=300)
@given(st.lists(scored_bids, min_size=0, max_size=8), st.sets(st.integers(min_value=1, max_value=10_000)),
       st.randoms(use_true_random=False))
def test_c7_the_winner_is_always_the_first_ranked_eligible_bid_and_no_excluded_bid_is_ranked(bids, extra, rnd):
    bids = list(_distinct(bids))
    excluded = {b.bid_id for b in bids if rnd.random() < 0.4} | extra
    ranked = rank_bids(bids, DEFAULT_TIE_BREAK, excluded)
    assert all(r.scored.bid_id not in excluded for r in ranked)  # no excluded bid is ever ranked
    eligible = [b for b in bids if b.bid_id not in excluded]
    assert sorted(r.scored.bid_id for r in ranked) == sorted(b.bid_id for b in eligible)
    shuffled = list(bids)
    rnd.shuffle(shuffled)
    assert rank_bids(shuffled, DEFAULT_TIE_BREAK, excluded) == ranked  # deterministic, whatever the input order
    winner = award_winner(ranked, excluded)
    if not eligible:
        assert winner is None
        return
    assert winner is not None and winner.rank == 1 and winner.scored.bid_id not in excluded
    assert all(compare_bids(winner.scored, b) <= 0 for b in eligible)  # it beats every eligible bid
    # excluding more after the ranking: the award moves to the next-ranked bid not excluded, never to another
    later = {ranked[0].scored.bid_id}
    moved = award_winner(ranked, later)
    assert moved == (ranked[1] if len(ranked) > 1 else None)
    assert award_winner(rank_bids(bids, DEFAULT_TIE_BREAK, excluded)) == award_winner(ranked)


@pytest.mark.parametrize(("state", "expected"), [
    (Standing.ELIGIBLE, None),
    (Standing.SUSPENDED, "its admission to Virtual wards is suspended"),
    (Standing.REMOVED, "it has been removed from Virtual wards"),
    (Standing.NOT_ADMITTED, "it is not admitted to Virtual wards"),
    (Standing.DEBARRED, "it is on the debarment list"),
])
def test_a8_c1_who_cannot_bid_and_why_in_plain_words(state, expected):
    assert exclusion_reason(state, "Virtual wards") == expected


def test_c7_a_departure_needs_its_kind_and_a_reason():
    assert departure_reason("failed_pre_contract_check", " No insurance certificate ") == \
        "The bidder failed a pre-contract check: No insurance certificate"
    assert departure_reason(Departure.WITHDREW, "Cannot start in time").startswith("The bidder withdrew")
    with pytest.raises(ValidationFailed) as missing:
        departure_reason("withdrew", "  ")
    assert missing.value.field == "reason"
    with pytest.raises(ValidationFailed) as unknown:
        departure_reason("buyer_prefers_another", "reason")
    assert unknown.value.field == "departure"


def test_c7_withdrawing_an_award_returns_the_competition_to_evaluation():
    for state in (CompetitionState.AWARD_DECIDED, CompetitionState.STANDSTILL):
        assert next_competition_state(state, CompetitionEvent.WITHDRAW_AWARD) is CompetitionState.EVALUATION


# --- standstill (C8), notices (C9, C10), milestones, fund splits ----------------------------------------


def test_c8_pcr_standstill_is_ten_calendar_days_ending_at_midnight_moved_to_a_working_day():
    # Decision Mon 5 Jan 2026: day 10 is Thu 15 Jan, a working day; it ends at the end of it (23:59:59).
    assert standstill_ends(datetime(2026, 1, 5, 15, 0, tzinfo=UTC), "pcr2015_dps") == \
        datetime(2026, 1, 15, 23, 59, 59, tzinfo=UTC)
    # Decision Wed 7 Jan 2026: day 10 is Sat 17 Jan, moved to Mon 19 Jan.
    assert standstill_ends(datetime(2026, 1, 7, 15, 0, tzinfo=UTC), "pcr2015_dps") == \
        datetime(2026, 1, 19, 23, 59, 59, tzinfo=UTC)


def test_c8_pa_standstill_is_eight_working_days_all_uk_from_the_notice():
    # RULES.md worked example: notice Mon 22 Dec 2025 -> last day Tue 6 Jan 2026 (2 Jan is a Scottish holiday).
    assert standstill_ends(datetime(2025, 12, 22, 10, 0, tzinfo=UTC), "pa2023_dynamic_market") == \
        datetime(2026, 1, 6, 23, 59, 59, tzinfo=UTC)
    # Under the England-only calendar it would have been Mon 5 Jan: the regimes differ here.
    assert standstill_ends(datetime(2025, 12, 22, 10, 0, tzinfo=UTC), "pcr2015_dps") == \
        datetime(2026, 1, 2, 23, 59, 59, tzinfo=UTC)


def test_c8_only_the_procurement_act_starts_the_standstill_with_the_award_notice():
    assert standstill_starts_with_notice("pa2023_dynamic_market")
    assert not standstill_starts_with_notice("pcr2015_dps")


def test_c8_the_contract_can_be_entered_into_from_midnight_not_a_moment_before():
    ends = standstill_ends(datetime(2026, 1, 5, 15, 0, tzinfo=UTC), "pcr2015_dps")  # the end of Thu 15 Jan
    assert ends == datetime(2026, 1, 15, 23, 59, 59, tzinfo=UTC)
    assert not can_confirm_award(datetime(2026, 1, 15, 23, 59, 59, 999999, tzinfo=UTC), ends, False)
    assert can_confirm_award(datetime(2026, 1, 16, 0, 0, tzinfo=UTC), ends, False)
    assert not can_confirm_award(ends, ends, True) and not can_confirm_award(ends, None, False)


def test_a_paused_standstill_keeps_the_time_it_had_left():
    ends = datetime(2026, 1, 16, 0, 0, tzinfo=UTC)
    paused = datetime(2026, 1, 12, 0, 0, tzinfo=UTC)
    resumed = datetime(2026, 1, 20, 0, 0, tzinfo=UTC)
    assert resumed_standstill_end(ends, paused, resumed) == resumed + (ends - paused)
    assert resumed_standstill_end(ends, ends + timedelta(days=1), ends + timedelta(days=2)) == ends + timedelta(days=2)
    with pytest.raises(ValueError):
        resumed_standstill_end(ends, resumed, paused)
    assert not can_confirm_award(ends - timedelta(microseconds=1), ends, False) and can_confirm_award(ends, ends, False)
    assert not can_confirm_award(ends + timedelta(days=1), ends, True)


def test_contracts_finder_from_30000_pounds_including_vat_and_notice_within_30_days():
    assert not needs_contracts_finder(29_999_99) and needs_contracts_finder(30_000_00)
    assert award_notice_due(T0) == T0 + timedelta(days=30)


def test_c9_the_notice_after_the_contract_is_named_by_regime():
    assert contract_notice_name("pcr2015_dps") == "contract award notice"
    assert contract_notice_name("pa2023_dynamic_market") == "contract details notice"


def test_c9_a_procurement_act_contract_over_5_million_needs_three_kpis_before_its_notice():
    kpis = ["Uptime 99.5%", "Alerts answered within 15 minutes", "Readmissions down 10%"]
    assert contract_notice_needs("pa2023_dynamic_market", 5_000_000_00, []) == ()  # not more than £5m
    assert contract_notice_needs("pa2023_dynamic_market", 5_000_000_01, kpis[:2] + ["  "])
    assert contract_notice_needs("pa2023_dynamic_market", 5_000_000_01, kpis) == ()
    assert contract_notice_needs("pcr2015_dps", 9_000_000_00, []) == ()
    assert clean_kpis(["  Uptime   99.5% ", "", " "]) == ("Uptime 99.5%",)
    with pytest.raises(ValidationFailed):
        clean_kpis(["x" * 501])


def test_c9_a_notice_is_overdue_after_its_30_days_until_it_is_published():
    due = award_notice_due(T0)
    assert not notice_overdue(due, due, None) and notice_overdue(due + timedelta(seconds=1), due, None)
    assert not notice_overdue(due + timedelta(days=5), due, T0) and not notice_overdue(due, None, None)


@given(st.integers(min_value=0, max_value=10**10),
       st.lists(st.integers(min_value=1, max_value=10**8), min_size=1, max_size=5))
def test_a_proportional_split_adds_up_to_the_award_exactly(value, intended):
    lines = [FundLine(i + 1, pence) for i, pence in enumerate(intended)]
    split = proportional_split(value, lines)
    assert sum(line.pence for line in split) == value
    assert [line.allocation_id for line in split] == [line.allocation_id for line in lines]
    for line, original in zip(split, lines, strict=True):
        exact = Fraction(value * original.pence, sum(intended))
        assert abs(line.pence - exact) < 1


def test_a_fund_split_must_add_up_to_the_award():
    check_fund_split([], 100)
    check_fund_split([FundLine(1, 60), FundLine(2, 40)], 100)
    bad_splits = ([FundLine(1, 60), FundLine(2, 39)], [FundLine(1, 100), FundLine(1, 0)],
                  [FundLine(1, 50), FundLine(1, 50)])
    for bad in bad_splits:
        with pytest.raises(ValidationFailed):
            check_fund_split(bad, 100)


# --- the buyer's form ------------------------------------------------------------------------------------


def competition_form(**changes: str) -> dict[str, str]:
    form = {
        "category_id": "3", "title": "Virtual ward remote monitoring", "requirement": "Monitor 200 patients at home.",
        "estimated_value": "250,000", "contract_starts_on-day": "1", "contract_starts_on-month": "4",
        "contract_starts_on-year": "2026", "contract_ends_on-day": "31", "contract_ends_on-month": "3",
        "contract_ends_on-year": "2027", "clarification_deadline-day": "12", "clarification_deadline-month": "1",
        "clarification_deadline-year": "2026", "clarification_deadline-time": "12:00", "tender_deadline-day": "16",
        "tender_deadline-month": "1", "tender_deadline-year": "2026", "tender_deadline-time": "12:00",
        "price-weight": "40", "q1-kind": "quality", "q1-title": "Clinical outcomes", "q1-question": "How?",
        "q1-weight": "45", "q1-max_score": "5", "q1-word_limit": "500", "q2-kind": "net_zero", "q2-title": "Net zero",
        "q2-question": "Carbon?", "q2-weight": "10", "q2-max_score": "5", "q2-word_limit": "300",
        "q3-kind": "social_value", "q3-title": "Social value", "q3-question": "Jobs?", "q3-weight": "5",
        "q3-max_score": "10", "q3-word_limit": "300", "fund-1-allocation": "7", "fund-1-amount": "100,000",
    }
    form.update(changes)
    return form


def test_the_buyer_form_reads_into_a_competition():
    parsed = parse_competition_form(competition_form(), ["12", "11"], 5)
    assert parsed.errors.messages == {}
    data = parsed.data
    assert data.estimated_value_pence == 25_000_000 and data.buyer_organisation_id == 5
    assert data.tender_deadline == datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
    assert [c.key for c in data.criteria] == ["price", "q1", "q2", "q3"]
    assert data.evaluator_user_ids == (11, 12) and data.fund_lines == (FundLine(7, 10_000_000),)


def test_the_buyer_form_reports_every_problem_at_once():
    parsed = parse_competition_form(competition_form(**{
        "title": "", "estimated_value": "lots", "q1-weight": "55", "q3-weight": "", "tender_deadline-day": "40",
        "q3-title": "", "q3-question": "", "contract_ends_on-year": "2025", "fund-1-amount": "-5"}), [], 5)
    assert parsed.data is None
    assert {"title", "estimated_value", "tender_deadline", "contract_ends_on", "evaluator_ids", "criteria",
            "fund-1-amount"} <= set(parsed.errors)
    assert parsed.values["title"] == ""  # what was typed is kept


# --- the status shown is worked out from the clock --------------------------------------------------------------

_SHOWN_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("state", "deadline_passed", "standstill", "paused", "shown"), [
    ("published", False, None, False, ShownStatus.PUBLISHED),
    ("published", True, None, False, ShownStatus.CLOSED),  # stored as published, the deadline has passed
    ("standstill", True, "running", False, ShownStatus.STANDSTILL),
    ("standstill", True, "over", False, ShownStatus.STANDSTILL_ENDED),  # stale: the standstill has ended
    ("standstill", True, "over", True, ShownStatus.STANDSTILL_PAUSED),
    ("awarded", True, "over", False, ShownStatus.AWARDED),
    ("draft", True, None, False, ShownStatus.DRAFT),
])
def test_the_status_shown_follows_the_clock(state, deadline_passed, standstill, paused, shown):
    deadline = _SHOWN_AT - timedelta(hours=1) if deadline_passed else _SHOWN_AT + timedelta(hours=1)
    ends = {None: None, "running": _SHOWN_AT + timedelta(days=1), "over": _SHOWN_AT - timedelta(seconds=1)}[standstill]
    assert shown_status(state, tender_deadline=deadline, standstill_ends_at=ends, standstill_paused=paused,
                        now=_SHOWN_AT) is shown


@given(st.sampled_from(list(CompetitionState)), st.datetimes(timezones=st.just(UTC)),
       st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)), st.booleans())
def test_the_status_shown_changes_only_by_the_clock(state, deadline, ends, now, paused):
    """Only a published competition or a standstill can be shown other than as stored, and only once its time has
    come."""
    shown = shown_status(state, tender_deadline=deadline, standstill_ends_at=ends, standstill_paused=paused, now=now)
    if shown.value != state.value:
        assert (state, shown) in {(CompetitionState.PUBLISHED, ShownStatus.CLOSED),
                                  (CompetitionState.STANDSTILL, ShownStatus.STANDSTILL_ENDED),
                                  (CompetitionState.STANDSTILL, ShownStatus.STANDSTILL_PAUSED)}
        assert now >= deadline if shown is ShownStatus.CLOSED else True
        assert now >= ends or paused if state is CompetitionState.STANDSTILL else True


# --- the timeline of a competition -------------------------------------------------------------------------------

def _timeline(now, **changes):
    base = dict(published_at=_SHOWN_AT - timedelta(days=20), clarification_deadline=_SHOWN_AT - timedelta(days=10),
                tender_deadline=_SHOWN_AT - timedelta(days=5), evaluation_started_at=None, award_decided_at=None,
                standstill_started_at=None, standstill_ends_at=None, standstill_paused=False, awarded_at=None,
                notice_name="contract award notice", notice_due_by=None, notice_published_at=None)
    return {step.name: step.status.value for step in competition_timeline(**{**base, **changes}, now=now)}


def test_the_timeline_marks_each_step_done_due_or_overdue():
    closed = _timeline(_SHOWN_AT)
    assert list(closed.values()) == ["done", "done", "done", "due", "due", "due", "due", "due", "due"]
    assert list(closed)[0] == "Published and suppliers invited"
    assert list(closed)[-1] == "Contract award notice published"
    draft = _timeline(_SHOWN_AT, published_at=None, clarification_deadline=_SHOWN_AT - timedelta(days=1))
    assert set(draft.values()) == {"due"}  # nothing is done before publication, even past a deadline
    contract = _SHOWN_AT - timedelta(days=31)
    late = _timeline(_SHOWN_AT, evaluation_started_at=contract, award_decided_at=contract,
                     standstill_started_at=contract, standstill_ends_at=contract, awarded_at=contract,
                     notice_due_by=contract + timedelta(days=30))
    assert late["Standstill ends"] == "done" and late["Contract made"] == "done"
    assert late["Contract award notice published"] == "overdue"
    in_standstill = _timeline(_SHOWN_AT, standstill_started_at=_SHOWN_AT, standstill_ends_at=_SHOWN_AT + timedelta(
        days=10))
    assert in_standstill["Outcome letters sent and standstill started"] == "done"
    assert in_standstill["Standstill ends"] == "due"

"""Mini-competition rules (RULES.md section 2, C1-C10). Pure: no I/O, no clock reads; callers pass `now`.

- The competition and bid state machines (reusing dps.admission.rules.StateMachine).
- Award criteria: weights sum to 100, exactly one price criterion, quality questions with a maximum score and a
  word limit, net zero + social value weighting at least 10% (C4); frozen at publication, wording may only be
  made more precise afterwards (C3).
- The minimum tender period at publication (C2): the regime's floor, which an agreement may lengthen but never
  shorten, counted in whole London days; a shorter period only under PCR 2015 reg 34(12), with the recorded
  agreement of every invited supplier. And the clarification deadline that must fall inside it.
- Scoring: price score = lowest price / bid price x price weight; quality score = moderated score / maximum x
  weight; total = price + quality. Exact fractions throughout, rounded only for display.
- Ranking, a strict total order (C7): the higher total score first; a tie on the total is broken by the rule
  published with the criteria (stored on the competition at publication, `TieBreak`); the default: the higher
  quality score (everything but price), then the lower price, then the earlier (final) submission, then the lower
  bid id, which is unique, so no two different bids ever compare equal. Excluded bids are never ranked.
- The award (C7): to the first-ranked bid, and only to it; never the buyer's choice. The lawful departures (the
  first-ranked bidder excluded, withdrawn or failing a pre-contract check) take that bid out of the ranking, with
  a reason, so the award moves to the next-ranked bid.
- Standstill (C8) via dps.calendar.standstill_end, what starts it under each regime, and what a pause for a
  challenge does to it; the notices that follow the contract (C9) and the Contracts Finder threshold (C10).
- Word counting for answers. (The contract's milestone schedule is in dps.contracts.rules.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any

from dps.admission.rules import StateMachine
from dps.calendar import (
    END_OF_DAY,
    MINIMUM_TENDER_CALENDAR_DAYS,
    london_date,
    london_instant,
    minimum_tender_deadline,
    standstill_end,
    tender_period_last_day,
)
from dps.dates import LONDON, parse_date_input
from dps.documents import MEGABYTE, pdf_problem
from dps.errors import Conflict, ValidationFailed
from dps.exclusion.rules import Standing
from dps.forms import FormErrors, label_in_sentence, whole_number
from dps.regimes import Regime

# C10: Contracts Finder publication threshold for sub-central buyers, value including VAT, in pence.
CONTRACTS_FINDER_THRESHOLD_PENCE = 30_000_00
# C9: the award notice is due within 30 days of the contract.
AWARD_NOTICE_DAYS = 30
# C9 (PA 2023 s.52): a contract worth more than £5m (including VAT) has at least three key performance indicators.
KPI_THRESHOLD_PENCE = 5_000_000_00
MINIMUM_KPIS = 3
# C4: net zero and social value together carry at least this share of the total weight.
MINIMUM_NET_ZERO_SOCIAL_VALUE_WEIGHT = 10
TOTAL_WEIGHT = 100
MAX_QUESTIONS = 8
MAX_WORD_LIMIT = 5000
MAX_MAX_SCORE = 100


# --- state machines -------------------------------------------------------------------------------------


class CompetitionState(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"
    EVALUATION = "evaluation"
    AWARD_DECIDED = "award_decided"
    STANDSTILL = "standstill"
    AWARDED = "awarded"
    CANCELLED = "cancelled"


class CompetitionEvent(StrEnum):
    PUBLISH = "publish"
    CLOSE = "close"
    START_EVALUATION = "start_evaluation"
    DECIDE_AWARD = "decide_award"
    START_STANDSTILL = "start_standstill"
    CONFIRM_AWARD = "confirm_award"
    WITHDRAW_AWARD = "withdraw_award"  # C7: the bid chosen cannot be awarded; the award moves down the ranking
    CANCEL = "cancel"


_C, _CE = CompetitionState, CompetitionEvent
# Awarded and cancelled are terminal. Cancel is allowed from every state before awarded.
COMPETITION_TRANSITIONS: Mapping[tuple[CompetitionState, CompetitionEvent], CompetitionState] = {
    (_C.DRAFT, _CE.PUBLISH): _C.PUBLISHED,
    (_C.PUBLISHED, _CE.CLOSE): _C.CLOSED,
    (_C.CLOSED, _CE.START_EVALUATION): _C.EVALUATION,
    (_C.EVALUATION, _CE.DECIDE_AWARD): _C.AWARD_DECIDED,
    (_C.AWARD_DECIDED, _CE.START_STANDSTILL): _C.STANDSTILL,
    (_C.STANDSTILL, _CE.CONFIRM_AWARD): _C.AWARDED,
    (_C.AWARD_DECIDED, _CE.WITHDRAW_AWARD): _C.EVALUATION,
    (_C.STANDSTILL, _CE.WITHDRAW_AWARD): _C.EVALUATION,
    **{(state, _CE.CANCEL): _C.CANCELLED
       for state in (_C.DRAFT, _C.PUBLISHED, _C.CLOSED, _C.EVALUATION, _C.AWARD_DECIDED, _C.STANDSTILL)},
}

COMPETITIONS: StateMachine[CompetitionState, CompetitionEvent] = StateMachine(
    subject="A competition",
    state_type=CompetitionState,
    event_type=CompetitionEvent,
    transitions=COMPETITION_TRANSITIONS,
    state_phrases={
        _C.DRAFT: "still a draft",
        _C.PUBLISHED: "open for bids",
        _C.CLOSED: "closed for bids",
        _C.EVALUATION: "under evaluation",
        _C.AWARD_DECIDED: "awaiting the start of standstill",
        _C.STANDSTILL: "in standstill",
        _C.AWARDED: "awarded",
        _C.CANCELLED: "cancelled",
    },
    event_phrases={
        _CE.PUBLISH: "published",
        _CE.CLOSE: "closed",
        _CE.START_EVALUATION: "taken into evaluation",
        _CE.DECIDE_AWARD: "given an award decision",
        _CE.START_STANDSTILL: "put into standstill",
        _CE.CONFIRM_AWARD: "awarded",
        _CE.WITHDRAW_AWARD: "given a new award decision",
        _CE.CANCEL: "cancelled",
    },
)

# States in which the bids are still sealed (C5): nobody but each bidder may see anything of them.
SEALED_STATES = frozenset({_C.DRAFT, _C.PUBLISHED})
# States in which the invited suppliers have been told and the competition is still running.
LIVE_STATES = frozenset({_C.PUBLISHED, _C.CLOSED, _C.EVALUATION, _C.AWARD_DECIDED, _C.STANDSTILL})


def next_competition_state(state: CompetitionState | str, event: CompetitionEvent | str) -> CompetitionState:
    return COMPETITIONS.next_state(state, event)


class BidState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"


class BidEvent(StrEnum):
    SUBMIT = "submit"
    REVISE = "revise"
    WITHDRAW = "withdraw"
    REOPEN = "reopen"


_B, _BE = BidState, BidEvent
BID_TRANSITIONS: Mapping[tuple[BidState, BidEvent], BidState] = {
    (_B.DRAFT, _BE.SUBMIT): _B.SUBMITTED,
    (_B.SUBMITTED, _BE.REVISE): _B.SUBMITTED,  # a revision replaces the submitted bid whole
    (_B.SUBMITTED, _BE.WITHDRAW): _B.WITHDRAWN,
    (_B.WITHDRAWN, _BE.SUBMIT): _B.SUBMITTED,
    (_B.WITHDRAWN, _BE.REOPEN): _B.DRAFT,  # a withdrawn bid may be prepared again before the deadline
}

BIDS: StateMachine[BidState, BidEvent] = StateMachine(
    subject="A bid",
    state_type=BidState,
    event_type=BidEvent,
    transitions=BID_TRANSITIONS,
    state_phrases={_B.DRAFT: "a draft", _B.SUBMITTED: "submitted", _B.WITHDRAWN: "withdrawn"},
    event_phrases={_BE.SUBMIT: "submitted", _BE.REVISE: "revised", _BE.WITHDRAW: "withdrawn",
                   _BE.REOPEN: "reopened as a draft"},
)


def next_bid_state(state: BidState | str, event: BidEvent | str) -> BidState:
    return BIDS.next_state(state, event)


# --- award criteria (C3, C4) ----------------------------------------------------------------------------


class CriterionKind(StrEnum):
    PRICE = "price"
    QUALITY = "quality"
    NET_ZERO = "net_zero"
    SOCIAL_VALUE = "social_value"


CRITERION_KIND_LABELS: Mapping[CriterionKind, str] = {
    CriterionKind.PRICE: "Price",
    CriterionKind.QUALITY: "Quality",
    CriterionKind.NET_ZERO: "Net zero",
    CriterionKind.SOCIAL_VALUE: "Social value",
}
C4_KINDS = frozenset({CriterionKind.NET_ZERO, CriterionKind.SOCIAL_VALUE})
PRICE_KEY = "price"


@dataclass(frozen=True)
class Criterion:
    """One award criterion. Every kind but price is a question each bidder answers in words, scored 0..max_score."""

    key: str
    kind: CriterionKind
    title: str
    weight: int
    question: str = ""
    max_score: int | None = None
    word_limit: int | None = None

    @property
    def is_price(self) -> bool:
        return self.kind is CriterionKind.PRICE

    @property
    def kind_label(self) -> str:
        return CRITERION_KIND_LABELS[self.kind]

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "kind": str(self.kind), "title": self.title, "weight": self.weight,
                "question": self.question, "max_score": self.max_score, "word_limit": self.word_limit}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Criterion:
        return cls(key=str(data["key"]), kind=CriterionKind(data["kind"]), title=str(data.get("title", "")),
                   weight=int(data["weight"]), question=str(data.get("question") or ""),
                   max_score=None if data.get("max_score") is None else int(data["max_score"]),
                   word_limit=None if data.get("word_limit") is None else int(data["word_limit"]))


def criteria_from_json(rows: Iterable[Mapping[str, Any]]) -> tuple[Criterion, ...]:
    return tuple(Criterion.from_json(row) for row in rows)


def questions_of(criteria: Sequence[Criterion]) -> tuple[Criterion, ...]:
    """The criteria bidders answer in words (all but price), in their published order."""
    return tuple(c for c in criteria if not c.is_price)


def criteria_problems(criteria: Sequence[Criterion]) -> FormErrors:
    """Every problem with a set of criteria, as form field -> message (fields are named `<key>-<attribute>`).

    Empty when the criteria may be published: weights are whole percentages of at least 1 that sum to 100; exactly
    one price criterion; each question has a title, its wording, a maximum score and a word limit; net zero and
    social value carry at least 10% together (C4).
    """
    problems = FormErrors()
    add = problems.add
    keys = [c.key for c in criteria]
    if len(set(keys)) != len(keys):
        add("criteria", "Each criterion needs its own key")
    prices = [c for c in criteria if c.is_price]
    if len(prices) != 1:
        add("price-weight", "Include exactly one price criterion")
    if len(questions_of(criteria)) > MAX_QUESTIONS:
        add("criteria", f"Ask at most {MAX_QUESTIONS} questions")
    for criterion in criteria:
        if not 1 <= criterion.weight <= TOTAL_WEIGHT:
            add(f"{criterion.key}-weight", f"Give {criterion.title or 'each criterion'} a weight from 1 to 100")
        if criterion.is_price:
            continue
        if not criterion.title.strip():
            add(f"{criterion.key}-title", "Give the question a short title")
        if not criterion.question.strip():
            add(f"{criterion.key}-question", f"Enter the question bidders answer for {criterion.title or 'it'}")
        if criterion.max_score is None or not 1 <= criterion.max_score <= MAX_MAX_SCORE:
            add(f"{criterion.key}-max_score", f"Give the maximum score, from 1 to {MAX_MAX_SCORE}")
        if criterion.word_limit is None or not 1 <= criterion.word_limit <= MAX_WORD_LIMIT:
            add(f"{criterion.key}-word_limit", f"Give the word limit, from 1 to {MAX_WORD_LIMIT:,}")
    total = sum(c.weight for c in criteria)
    if total != TOTAL_WEIGHT:
        add("criteria", f"The weights must add up to 100%: they add up to {total}%")
    c4_weight = sum(c.weight for c in criteria if c.kind in C4_KINDS)
    if c4_weight < MINIMUM_NET_ZERO_SOCIAL_VALUE_WEIGHT:
        add("criteria", f"Net zero and social value must carry at least {MINIMUM_NET_ZERO_SOCIAL_VALUE_WEIGHT}% of "
                        f"the total weight together: they carry {c4_weight}%")
    return problems


def validate_criteria(criteria: Sequence[Criterion]) -> None:
    problems = criteria_problems(criteria)
    if problems:
        field_name, message = next(iter(problems.messages.items()))
        raise ValidationFailed(message, field=field_name)


def check_refinement(published: Sequence[Criterion], proposed: Sequence[Criterion]) -> None:
    """C3: after publication a criterion's wording may be made more precise; nothing may be added, removed,
    re-weighted or re-scaled."""
    frozen = [(c.key, c.kind, c.weight, c.max_score, c.word_limit) for c in published]
    after = [(c.key, c.kind, c.weight, c.max_score, c.word_limit) for c in proposed]
    if frozen != after:
        raise Conflict("The award criteria and their weights were fixed when the competition was published: "
                       "they can be made more precise, but not added to, removed, re-weighted or re-scored")
    for criterion in proposed:
        if not criterion.is_price and (not criterion.title.strip() or not criterion.question.strip()):
            raise ValidationFailed("A criterion made more precise still needs a title and its question",
                                   field=f"{criterion.key}-question")


# --- tender period and deadlines (C2) -------------------------------------------------------------------


# C2: the minimum tender period of each regime in days, a floor below which no agreement setting, form value or
# call can go. pcr2015_dps: reg 34(11); pa2023_dynamic_market: s.54.
REGIME_MINIMUM_TENDER_DAYS: Mapping[Regime, int] = {
    Regime.PCR2015_DPS: MINIMUM_TENDER_CALENDAR_DAYS,
    Regime.PA2023_DYNAMIC_MARKET: MINIMUM_TENDER_CALENDAR_DAYS,
}
# The longest period an agreement may set: a typing slip of 1000 days would stall every competition under it.
MAXIMUM_TENDER_DAYS_SETTING = 365
TENDER_DAYS_SETTING = "minimum_tender_days"


def regime_minimum_tender_days(regime: Regime | str) -> int:
    return REGIME_MINIMUM_TENDER_DAYS[Regime(regime)]


def _whole_days(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return whole_number(value)
    return None


def minimum_tender_days(regime: Regime | str, rule_settings: Mapping[str, Any] | None) -> int:
    """C2 [check]: the minimum tender period in days of an agreement's competitions.

    The agreement's `minimum_tender_days` setting may make the period longer than the regime's floor (10 days
    under both regimes), never shorter: a lower, missing or malformed setting reads as the floor, so a bad row
    written before the setting was checked cannot open a one-hour tender."""
    floor = regime_minimum_tender_days(regime)  # unknown regimes fail loudly
    setting = _whole_days((rule_settings or {}).get(TENDER_DAYS_SETTING))
    return max(floor, min(setting, MAXIMUM_TENDER_DAYS_SETTING)) if setting is not None else floor


def tender_days_setting_problem(regime: Regime | str, value: Any) -> str | None:
    """C2: why an agreement's `minimum_tender_days` setting cannot be saved, or None when it can."""
    floor = regime_minimum_tender_days(regime)
    days = _whole_days(value)
    if days is None:
        return f"Enter the minimum tender period as a whole number of days, {floor} or more"
    if days < floor:
        return (f"The minimum tender period cannot be shorter than {floor} days, the least the law allows: "
                f"an agreement can only make it longer")
    if days > MAXIMUM_TENDER_DAYS_SETTING:
        return f"The minimum tender period can be at most {MAXIMUM_TENDER_DAYS_SETTING} days"
    return None


def check_rule_settings(regime: Regime | str, rule_settings: Mapping[str, Any]) -> None:
    """Refuse agreement settings that would weaken a rule of the regime (where settings are written)."""
    if TENDER_DAYS_SETTING in rule_settings:
        problem = tender_days_setting_problem(regime, rule_settings[TENDER_DAYS_SETTING])
        if problem:
            raise ValidationFailed(problem, field=TENDER_DAYS_SETTING)


def shorter_period_problem(regime: Regime | str, invited: Mapping[int, str], agreed: Set[int]) -> str | None:
    """C2, PCR 2015 reg 34(12): a tender period shorter than the minimum may be set only by agreement with every
    supplier invited. None when the shorter period is allowed: the regime is pcr2015_dps, at least one supplier is
    invited and every invited supplier's agreement (to this deadline or an earlier one) is recorded. Otherwise the
    reason, in words a buyer can act on. A dynamic market under the Procurement Act 2023 has no such exception."""
    if Regime(regime) is not Regime.PCR2015_DPS:
        return "A dynamic market under the Procurement Act 2023 cannot have a shorter tender period by agreement"
    if not invited:
        return "There is no supplier to agree a shorter tender period with"
    missing = sorted(name for organisation_id, name in invited.items() if organisation_id not in agreed)
    if not missing:
        return None
    return (f"A shorter tender period needs the agreement of every supplier invited: "
            f"{len(invited) - len(missing)} of {len(invited)} have agreed to this deadline; "
            f"not yet {_names(missing)}")


def shorter_tender_period_allowed(regime: Regime | str, invited: Mapping[int, str] | Set[int],
                                  agreed: Set[int]) -> bool:
    """C2, PCR reg 34(12): True only for pcr2015_dps with every invited supplier's agreement recorded."""
    named = invited if isinstance(invited, Mapping) else {organisation_id: "" for organisation_id in invited}
    return shorter_period_problem(regime, named, agreed) is None


def _names(names: Sequence[str]) -> str:
    if len(names) > 3:
        return f"{', '.join(names[:3])} and {len(names) - 3} more"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def minimum_period_message(now: datetime, days: int) -> str:
    """What a buyer reads when a tender deadline is too early to publish now, in plain words."""
    last_day = tender_period_last_day(now, days)
    return (f"The tender deadline must be at least {days} full days after the invitation: if you publish now, "
            f"suppliers must be able to bid until the end of {last_day:%A %-d %B %Y}, so the deadline can be no "
            f"earlier than 11:59pm on {last_day:%A %-d %B %Y}")


def check_deadlines(*, clarification_deadline: datetime | None, tender_deadline: datetime | None,
                    contract_starts_on: date | None = None) -> FormErrors:
    """The order of the dates a draft holds (checked whenever it is saved): clarifications close before tenders."""
    problems = FormErrors()
    if clarification_deadline and tender_deadline and clarification_deadline >= tender_deadline:
        problems.add("clarification_deadline", "The clarification deadline must be before the tender deadline")
    if tender_deadline and contract_starts_on and contract_starts_on < london_date(tender_deadline):
        problems.add("contract_starts_on", "The contract cannot start before the tender deadline")
    return problems


def check_publication(*, now: datetime, clarification_deadline: datetime, tender_deadline: datetime,
                      minimum_days: int, regime: Regime | str,
                      invited: Mapping[int, str] | None = None, agreed: Set[int] = frozenset()) -> None:
    """C2 at the moment of publication (the invitation is sent `now`): the tender deadline is no earlier than the
    end of the last day of the minimum period (`minimum_tender_deadline`), a period never shorter than the regime's
    floor whatever `minimum_days` says; and the clarification deadline is still ahead and before the tender deadline.

    A shorter period passes only under PCR 2015 reg 34(12): `invited` (organisation id -> name) are the suppliers
    the publication invites and `agreed` those whose recorded agreement covers this tender deadline."""
    days = max(minimum_days, regime_minimum_tender_days(regime))
    if tender_deadline <= now:
        raise ValidationFailed("The tender deadline has already passed: move it later", field="tender_deadline")
    if tender_deadline < minimum_tender_deadline(now, days):
        message = minimum_period_message(now, days)
        if agreed:
            shorter = shorter_period_problem(regime, invited or {}, agreed)
            if shorter is not None:
                raise ValidationFailed(f"{message}. {shorter}.", field="tender_deadline")
        else:
            raise ValidationFailed(f"{message}.", field="tender_deadline")
    if clarification_deadline <= now:
        raise ValidationFailed("The clarification deadline has already passed: move it later",
                               field="clarification_deadline")
    if clarification_deadline >= tender_deadline:
        raise ValidationFailed("The clarification deadline must be before the tender deadline",
                               field="clarification_deadline")


# C5: a bid received just before the deadline may still be being stored after it (the received time is taken when
# the request arrives, before any lock or queue). The competition closes, and its bids are opened, only this long
# after the deadline, so that no bid received in time finds it closed; one received later is refused all the same.
CLOSING_GRACE = timedelta(seconds=30)


def bids_open(tender_deadline: datetime, received_at: datetime) -> bool:
    """C5: a bid (or a change to one) is accepted only if the server received it strictly before the deadline."""
    return received_at < tender_deadline


def is_due_to_close(state: CompetitionState | str, tender_deadline: datetime | None, now: datetime) -> bool:
    """Closing waits `CLOSING_GRACE` after the deadline for the bids received in time to be stored."""
    return CompetitionState(state) is CompetitionState.PUBLISHED and tender_deadline is not None \
        and now >= tender_deadline + CLOSING_GRACE


_TIME = re.compile(r"([01]?\d|2[0-3])[:.]([0-5]\d)", re.ASCII)


def parse_london_deadline(values: Mapping[str, str], prefix: str, label: str) -> datetime:
    """A London date (the date input `prefix`) and 24-hour time (`<prefix>-time`, like 12:00) as a UTC instant."""
    day = parse_date_input(values, prefix, label)
    match = _TIME.fullmatch(values.get(f"{prefix}-time", "").strip())
    if match is None:
        raise ValidationFailed(f"Enter the time of the {label_in_sentence(label)} in 24-hour form, like 12:00",
                               field=f"{prefix}-time")
    hour, minute = int(match.group(1)), int(match.group(2))
    # 23:59 is the end of the day a person means when they type it: the last second, as END_OF_DAY.
    return london_instant(day, END_OF_DAY if (hour, minute) == (23, 59) else time(hour, minute))


# --- answers and bids -----------------------------------------------------------------------------------


def count_words(text: str) -> int:
    """Words are runs of non-space characters: 'state-of-the-art' is one word, '£1,000' is one, '-' is one."""
    return len(text.split())


def bid_problems(criteria: Sequence[Criterion], answers: Mapping[str, str], price_pence: int | None,
                 *, complete: bool) -> FormErrors:
    """Problems with a bid. A draft (`complete=False`) is only held to the word limits; a submission must also
    answer every question and give a price of at least 1p."""
    problems = FormErrors()
    for question in questions_of(criteria):
        text = answers.get(question.key, "")
        words = count_words(text)
        if question.word_limit is not None and words > question.word_limit:
            problems.add(f"answer-{question.key}", f"Your answer to {question.title} has {words:,} words: the limit "
                                                   f"is {question.word_limit:,}")
        elif complete and not text.strip():
            problems.add(f"answer-{question.key}", f"Answer {question.title}")
    if complete and (price_pence is None or price_pence <= 0):
        problems.add("price", "Enter your total price for the contract, more than £0")
    return problems


# --- documents attached to a bid -----------------------------------------------------------------------------

BID_ATTACHMENT_MAX_BYTES = 10 * MEGABYTE
BID_ATTACHMENTS_MAX = 10  # per bid
BID_ATTACHMENT_NAME_MAX = 150
ATTACHMENT_NAME_FIELD, ATTACHMENT_FILE_FIELD = "attachment-name", "attachment-file"


def bid_attachment_problems(name: str, filename: str, content: bytes, *, attached: int) -> FormErrors:
    """Problems with a document a bidder attaches to its bid, which already has `attached` documents: a name, a
    PDF by its content (dps.documents) of at most BID_ATTACHMENT_MAX_BYTES, and no more than BID_ATTACHMENTS_MAX."""
    problems = FormErrors()
    if not name.strip():
        problems.add(ATTACHMENT_NAME_FIELD, "Enter a name for the document")
    elif len(name.strip()) > BID_ATTACHMENT_NAME_MAX:
        problems.add(ATTACHMENT_NAME_FIELD, f"The document's name must be {BID_ATTACHMENT_NAME_MAX} characters or "
                                            "fewer")
    if attached >= BID_ATTACHMENTS_MAX:
        problems.add(ATTACHMENT_FILE_FIELD, f"Your bid already has {BID_ATTACHMENTS_MAX} documents, the most it can "
                                            "have: remove one before you add another")
    else:
        problem = pdf_problem(content, filename=filename, max_bytes=BID_ATTACHMENT_MAX_BYTES)
        if problem:
            problems.add(ATTACHMENT_FILE_FIELD, problem)
    return problems


# --- scoring --------------------------------------------------------------------------------------------


def price_score(lowest_price: int, price: int, weight: int | Fraction) -> Fraction:
    """lowest price / bid price x price weight: the lowest bid gets the whole weight, others proportionally less."""
    if lowest_price <= 0 or price <= 0:
        raise ValueError("prices must be positive")
    if lowest_price > price:
        raise ValueError("the lowest price cannot be higher than the bid's price")
    return Fraction(lowest_price, price) * weight


def quality_score(score: int, max_score: int, weight: int | Fraction) -> Fraction:
    """moderated score / maximum score x weight."""
    if max_score <= 0:
        raise ValueError("the maximum score must be positive")
    if not 0 <= score <= max_score:
        raise ValueError("a score must be between 0 and the maximum")
    return Fraction(score, max_score) * weight


def check_score(score_text: str, criterion: Criterion, field_name: str) -> int:
    """A score typed by an evaluator or moderator: a whole number from 0 to the criterion's maximum."""
    text = score_text.strip()
    maximum = criterion.max_score or 0
    score = whole_number(text, maximum=maximum)
    if score is None:
        raise ValidationFailed(f"Enter a whole-number score from 0 to {maximum}", field=field_name)
    return score


@dataclass(frozen=True)
class BidForScoring:
    bid_id: int
    price_pence: int
    submitted_at: datetime
    moderated: Mapping[str, int]  # question key -> consensus score


@dataclass(frozen=True)
class ScoredBid:
    bid_id: int
    price_pence: int
    submitted_at: datetime
    price_score: Fraction
    question_scores: Mapping[str, Fraction] = field(default_factory=dict)

    @property
    def quality_score(self) -> Fraction:
        return sum(self.question_scores.values(), Fraction(0))

    @property
    def total(self) -> Fraction:
        return self.price_score + self.quality_score


def score_bids(criteria: Sequence[Criterion], bids: Sequence[BidForScoring]) -> list[ScoredBid]:
    """Score every bid on the published criteria. Raises ValueError if a moderated score is missing."""
    if not bids:
        return []
    price = next(c for c in criteria if c.is_price)
    lowest = min(bid.price_pence for bid in bids)
    scored = []
    for bid in bids:
        question_scores = {}
        for question in questions_of(criteria):
            if question.key not in bid.moderated:
                raise ValueError(f"bid {bid.bid_id} has no moderated score for {question.key}")
            question_scores[question.key] = quality_score(bid.moderated[question.key], question.max_score or 0,
                                                          question.weight)
        scored.append(ScoredBid(bid.bid_id, bid.price_pence, bid.submitted_at,
                                price_score(lowest, bid.price_pence, price.weight), question_scores))
    return scored


class TieBreak(StrEnum):
    """C7: how a tie on the total score is broken, published with the criteria and fixed at publication."""

    QUALITY_THEN_PRICE = "quality_then_price"


DEFAULT_TIE_BREAK = TieBreak.QUALITY_THEN_PRICE
TIE_BREAK_WORDING: Mapping[TieBreak, str] = {
    TieBreak.QUALITY_THEN_PRICE: "If two or more bids have the same total score, the bid with the higher quality "
                                 "score ranks higher; if they are still equal, the lower price; then the bid "
                                 "submitted first; then the bid received first.",
}


def tie_break_of(value: str | None) -> TieBreak:
    """The rule a competition published; competitions published before the rule was stored use the default."""
    return TieBreak(value) if value else DEFAULT_TIE_BREAK


def ranking_key(bid: ScoredBid, tie_break: TieBreak | str = DEFAULT_TIE_BREAK
                ) -> tuple[Fraction, Fraction, int, datetime, int]:
    """Sorting by this key ranks bids best first: the total, then the published tie-break rule."""
    rule = TieBreak(tie_break)
    assert rule is TieBreak.QUALITY_THEN_PRICE
    return (-bid.total, -bid.quality_score, bid.price_pence, bid.submitted_at, bid.bid_id)


def compare_bids(a: ScoredBid, b: ScoredBid, tie_break: TieBreak | str = DEFAULT_TIE_BREAK) -> int:
    """-1 if `a` ranks above `b`, 1 if below, 0 only for the same bid."""
    ka, kb = ranking_key(a, tie_break), ranking_key(b, tie_break)
    return -1 if ka < kb else (1 if ka > kb else 0)


@dataclass(frozen=True)
class RankedBid:
    rank: int
    scored: ScoredBid


def rank_bids(scored: Iterable[ScoredBid], tie_break: TieBreak | str = DEFAULT_TIE_BREAK,
              excluded: Set[int] = frozenset()) -> list[RankedBid]:
    """The ranking, best first, of every bid not excluded (C7: an excluded bid is never ranked)."""
    eligible = [bid for bid in scored if bid.bid_id not in excluded]
    return [RankedBid(position, bid) for position, bid in
            enumerate(sorted(eligible, key=lambda b: ranking_key(b, tie_break)), start=1)]


def display_score(value: Fraction) -> str:
    """A score shown to people: two decimal places, rounded half up."""
    hundredths = math.floor(value * 100 + Fraction(1, 2))
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def award_winner(ranked: Sequence[RankedBid], excluded: Set[int] = frozenset()) -> RankedBid | None:
    """C7: the award goes to the first-ranked bid that is not excluded, and only to it; None if there is none (the
    buyer can then only cancel). Not a choice: the buyer confirms the decision, the ranking makes it."""
    return next((r for r in sorted(ranked, key=lambda r: r.rank) if r.scored.bid_id not in excluded), None)


# Why a supplier cannot take part, in the words the supplier reads ({category} is the category's name).
_CANNOT_BID: Mapping[Standing, str] = {
    Standing.SUSPENDED: "its admission to {category} is suspended",
    Standing.REMOVED: "it has been removed from {category}",
    Standing.NOT_ADMITTED: "it is not admitted to {category}",
    Standing.DEBARRED: "it is on the debarment list",
}


def exclusion_reason(standing: Standing | str, category: str) -> str | None:
    """A8/C1/C7: why a supplier of this standing cannot bid, be evaluated or be awarded in a competition of the
    category, in plain words; None when it may (eligible). A suspension lifted restores the right; a removal does
    not (dps.exclusion.rules.standing decides the standing)."""
    state = Standing(standing)
    if state is Standing.ELIGIBLE:
        return None
    return _CANNOT_BID[state].format(category=category)


class Departure(StrEnum):
    """C7: the lawful reasons the award moves from the first-ranked bid to the next-ranked one."""

    EXCLUDED = "excluded"
    WITHDREW = "withdrew"
    FAILED_PRE_CONTRACT_CHECK = "failed_pre_contract_check"


DEPARTURE_WORDING: Mapping[Departure, str] = {
    Departure.EXCLUDED: "the bidder can no longer take part",
    Departure.WITHDREW: "the bidder withdrew",
    Departure.FAILED_PRE_CONTRACT_CHECK: "the bidder failed a pre-contract check",
}


def departure_reason(departure: Departure | str, reason: str) -> str:
    """The reason kept on the bid and told to the bidders; the buyer must explain a withdrawal or a failed check."""
    try:
        kind = Departure(departure)
    except ValueError:
        raise ValidationFailed("Say why the first-ranked bid cannot be awarded", field="departure") from None
    if not reason.strip():
        raise ValidationFailed("Give the reason: it is kept and told to every bidder", field="reason")
    return f"{DEPARTURE_WORDING[kind][0].upper()}{DEPARTURE_WORDING[kind][1:]}: {reason.strip()}"


# --- standstill (C8), award notice (C9, C10) ------------------------------------------------------------


def standstill_ends(started_at: datetime, regime: Regime | str) -> datetime:
    """pcr2015_dps: 10 calendar days from the award decision notices, ending at midnight, moved to the next
    working day (England & Wales); pa2023_dynamic_market: 8 working days (all-UK) from the publication of the
    contract award notice, day 1 = the publication day. The end is that midnight (see dps.calendar)."""
    return standstill_end(started_at, regime)


def standstill_starts_with_notice(regime: Regime | str) -> bool:
    """C8: under the Procurement Act 2023 the contract award notice must be published before the standstill can
    start (s.50, s.51), and the assessment summaries go to every bidder at that moment. Under PCR 2015 the award
    decision notices (the outcome letters) start it, and the contract award notice follows the contract (C9)."""
    return Regime(regime) is Regime.PA2023_DYNAMIC_MARKET


def resumed_standstill_end(ends_at: datetime, paused_at: datetime, resumed_at: datetime) -> datetime:
    """A standstill paused for a challenge keeps the time it had left: it ends that long after the resumption.

    A pause raised after the period had run out leaves nothing to run: the award may be confirmed on resumption.
    """
    if resumed_at < paused_at:
        raise ValueError("a standstill cannot resume before it was paused")
    remaining = max(ends_at - paused_at, timedelta(0))
    return resumed_at + remaining


def can_confirm_award(now: datetime, ends_at: datetime | None, paused: bool) -> bool:
    """The contract may be entered into once the standstill is over, never while it is paused. A standstill that
    ends at the end of a London day (23:59:59, `END_OF_DAY`) is over at the midnight that follows, not a moment
    before; one resumed after a pause ends at the instant it was given."""
    if ends_at is None or paused:
        return False
    over_at = ends_at + timedelta(seconds=1) if ends_at.astimezone(LONDON).time() == END_OF_DAY else ends_at
    return now >= over_at


class ShownStatus(StrEnum):
    """What a competition's status tag says: its state, or what the clock has made of it since it was stored."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"
    EVALUATION = "evaluation"
    AWARD_DECIDED = "award_decided"
    STANDSTILL = "standstill"
    STANDSTILL_PAUSED = "standstill_paused"
    STANDSTILL_ENDED = "standstill_ended"
    AWARDED = "awarded"
    CANCELLED = "cancelled"


def shown_status(state: CompetitionState | str, *, tender_deadline: datetime | None,
                 standstill_ends_at: datetime | None, standstill_paused: bool, now: datetime) -> ShownStatus:
    """The status to show at `now`. A stored state that a deadline has overtaken is shown as what it has become:
    a published competition past its tender deadline is closed for bids, and a standstill that has run out is over
    (the award can be confirmed) even before anyone has acted on it."""
    current = CompetitionState(state)
    if is_due_to_close(current, tender_deadline, now):
        return ShownStatus.CLOSED
    if current is CompetitionState.STANDSTILL:
        if standstill_paused:
            return ShownStatus.STANDSTILL_PAUSED
        if can_confirm_award(now, standstill_ends_at, paused=False):
            return ShownStatus.STANDSTILL_ENDED
    return ShownStatus(current.value)


class StepStatus(StrEnum):
    DONE = "done"
    DUE = "due"  # still to come: on time, or with no deadline
    OVERDUE = "overdue"  # its deadline has passed and it is not done


@dataclass(frozen=True)
class TimelineStep:
    name: str
    at: datetime | None  # when it was done, or when it is due (None: no date yet)
    status: StepStatus


def competition_timeline(*, published_at: datetime | None, clarification_deadline: datetime,
                         tender_deadline: datetime, evaluation_started_at: datetime | None,
                         award_decided_at: datetime | None, standstill_started_at: datetime | None,
                         standstill_ends_at: datetime | None, standstill_paused: bool, awarded_at: datetime | None,
                         notice_name: str, notice_due_by: datetime | None, notice_published_at: datetime | None,
                         now: datetime) -> list[TimelineStep]:
    """Every step of a competition from publication to the notice after the contract, each done, due or overdue
    at `now`. A deadline that passes by itself (clarifications, bids, standstill) is done once passed; a step a
    person takes is done when taken, and overdue only where the rules set it a deadline (the notice after the
    contract, 30 days)."""

    def by_clock(name: str, deadline: datetime | None, over: bool) -> TimelineStep:
        return TimelineStep(name, deadline, StepStatus.DONE if over else StepStatus.DUE)

    def taken(name: str, at: datetime | None, due_by: datetime | None = None) -> TimelineStep:
        if at is not None:
            return TimelineStep(name, at, StepStatus.DONE)
        late = due_by is not None and now > due_by
        return TimelineStep(name, due_by, StepStatus.OVERDUE if late else StepStatus.DUE)

    standstill_over = standstill_ends_at is not None and can_confirm_award(now, standstill_ends_at,
                                                                           standstill_paused)
    return [
        taken("Published and suppliers invited", published_at),
        by_clock("Clarification questions close", clarification_deadline,
                 published_at is not None and now >= clarification_deadline),
        by_clock("Bids close at the tender deadline", tender_deadline,
                 published_at is not None and now >= tender_deadline),
        taken("Evaluation started", evaluation_started_at),
        taken("Award decided", award_decided_at),
        taken("Outcome letters sent and standstill started", standstill_started_at),
        by_clock("Standstill ends", standstill_ends_at, standstill_over or awarded_at is not None),
        taken("Contract made", awarded_at),
        taken(notice_name[:1].upper() + notice_name[1:] + " published", notice_published_at,
              notice_due_by if awarded_at is not None else None),
    ]


def needs_contracts_finder(value_incl_vat_pence: int) -> bool:
    """C10: sub-central buyers publish on Contracts Finder from £30,000 including VAT.

    The value is the VAT-inclusive value stored with the award (the winning bid's price plus the VAT it states,
    which is what the buyer pays): no VAT rate is assumed."""
    return value_incl_vat_pence >= CONTRACTS_FINDER_THRESHOLD_PENCE


def award_notice_due(contract_created_at: datetime) -> datetime:
    """C9: the award notice (PCR reg 50) / contract details notice (PA 2023 s.53) within 30 days of the contract."""
    return contract_created_at + timedelta(days=AWARD_NOTICE_DAYS)


def contract_notice_name(regime: Regime | str) -> str:
    """C9: what the notice that follows the contract is called under each regime (as users read it)."""
    return "contract award notice" if Regime(regime) is Regime.PCR2015_DPS else "contract details notice"


def contract_notice_needs(regime: Regime | str, value_incl_vat_pence: int, kpis: Sequence[str]) -> tuple[str, ...]:
    """C9: what the buyer must still give before the notice that follows the contract can be published; empty
    when it can be published at once, automatically, as the contract is made.

    PA 2023: a contract worth more than £5 million (including VAT, as the Act values contracts) has at least three
    key performance indicators (s.52), which its contract details notice publishes.
    """
    if (Regime(regime) is Regime.PA2023_DYNAMIC_MARKET and value_incl_vat_pence > KPI_THRESHOLD_PENCE
            and len([k for k in kpis if k.strip()]) < MINIMUM_KPIS):
        return (f"at least {MINIMUM_KPIS} key performance indicators (the contract is worth more than £5 million)",)
    return ()


def clean_kpis(kpis: Sequence[str]) -> tuple[str, ...]:
    """The key performance indicators as given, blank rows dropped, each at most 500 characters."""
    cleaned = tuple(" ".join(k.split()) for k in kpis if k.strip())
    if any(len(k) > 500 for k in cleaned):
        raise ValidationFailed("Keep each key performance indicator to 500 characters or fewer", field="kpi-1")
    return cleaned


def notice_overdue(now: datetime, publish_by: datetime | None, published_at: datetime | None) -> bool:
    """C9: a notice not published by its due date (30 days after the contract)."""
    return published_at is None and publish_by is not None and now > publish_by


# --- fund split -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FundLine:
    allocation_id: int
    pence: int


def proportional_split(value_pence: int, intended: Sequence[FundLine]) -> list[FundLine]:
    """Spread the award value over the intended allocations in proportion to the intended amounts (largest
    remainder), so the lines add up to the value exactly. No intended lines, no split."""
    weights = [line.pence for line in intended]
    total = sum(weights)
    if not intended:
        return []
    if total <= 0:
        weights, total = [1] * len(intended), len(intended)
    shares = [value_pence * w // total for w in weights]
    remainders = sorted(range(len(intended)), key=lambda i: (-(value_pence * weights[i] % total), i))
    for i in remainders[: value_pence - sum(shares)]:
        shares[i] += 1
    return [FundLine(line.allocation_id, share) for line, share in zip(intended, shares, strict=True)]


def check_fund_split(lines: Sequence[FundLine], value_pence: int) -> None:
    """RULES.md 5: an award split across allocations adds up to the award value exactly."""
    if not lines:
        return
    if any(line.pence <= 0 for line in lines):
        raise ValidationFailed("Each fund line needs an amount of more than £0", field="funds")
    if len({line.allocation_id for line in lines}) != len(lines):
        raise ValidationFailed("Name each fund allocation once", field="funds")
    total = sum(line.pence for line in lines)
    if total != value_pence:
        raise ValidationFailed(f"The fund lines must add up to the award value exactly: they add up to "
                               f"£{total / 100:,.2f}, the award is £{value_pence / 100:,.2f}", field="funds")

"""Reading the buyer's competition form and a supplier's bid form into plain values. Pure: no I/O.

A form is read whole and every problem is reported at once (a FormErrors), so the page can show the NHS.UK
error summary with a link to each field and keep everything that was typed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dps.competitions.rules import (
    PRICE_KEY,
    Criterion,
    CriterionKind,
    FundLine,
    check_deadlines,
    criteria_problems,
    parse_london_deadline,
)
from dps.contracts.rules import Milestone
from dps.dates import LONDON, date_input_values, parse_date_input
from dps.errors import ValidationFailed
from dps.forms import FormErrors, whole_number
from dps.money import parse_pounds, pounds_for_form

QUESTION_ROWS = 6  # question rows the form offers; blank rows are ignored
FUND_ROWS = 3
MILESTONE_ROWS = 8
QUESTION_KINDS = (CriterionKind.QUALITY, CriterionKind.NET_ZERO, CriterionKind.SOCIAL_VALUE)


@dataclass(frozen=True)
class CompetitionInput:
    buyer_organisation_id: int
    category_id: int
    title: str
    requirement: str
    estimated_value_pence: int
    contract_starts_on: date
    contract_ends_on: date
    clarification_deadline: datetime
    tender_deadline: datetime
    criteria: tuple[Criterion, ...]
    evaluator_user_ids: tuple[int, ...]
    fund_lines: tuple[FundLine, ...] = ()
    # The form field that named each fund line's allocation, so a refusal sits next to its chooser.
    fund_line_fields: tuple[str, ...] = ()


@dataclass
class ParsedForm:
    values: dict[str, Any]
    errors: FormErrors = field(default_factory=FormErrors)
    data: CompetitionInput | None = None


def _int(text: str) -> int | None:
    return whole_number(text)


def _whole_number(values: Mapping[str, str], key: str, errors: FormErrors, message: str) -> int | None:
    text = values.get(key, "").strip().rstrip("%")
    if not text:
        errors.add(key, message)
        return None
    number = whole_number(text)
    if number is None:
        errors.add(key, message)
    return number


def question_row_used(values: Mapping[str, str], key: str) -> bool:
    return any(values.get(f"{key}-{part}", "").strip() for part in ("title", "question", "weight"))


def parse_criteria(values: Mapping[str, str], errors: FormErrors) -> tuple[Criterion, ...]:
    criteria: list[Criterion] = []
    price_weight = _whole_number(values, "price-weight", errors, "Enter the weight of price, a whole percentage")
    criteria.append(Criterion(PRICE_KEY, CriterionKind.PRICE, "Price", price_weight or 0))
    for index in range(1, QUESTION_ROWS + 1):
        key = f"q{index}"
        if not question_row_used(values, key):
            continue
        try:
            kind = CriterionKind(values.get(f"{key}-kind", ""))
        except ValueError:
            kind = None
        if kind not in QUESTION_KINDS:
            errors.add(f"{key}-kind", f"Choose what question {index} assesses")
            kind = CriterionKind.QUALITY
        weight = _whole_number(values, f"{key}-weight", errors, f"Enter the weight of question {index}")
        max_score = _whole_number(values, f"{key}-max_score", errors, f"Enter the maximum score of question {index}")
        word_limit = _whole_number(values, f"{key}-word_limit", errors,
                                   f"Enter the word limit of question {index}")
        criteria.append(Criterion(key, kind, values.get(f"{key}-title", "").strip(), weight or 0,
                                  values.get(f"{key}-question", "").strip(), max_score, word_limit))
    errors.add_all(criteria_problems(criteria))
    return tuple(criteria)


def parse_fund_lines(values: Mapping[str, str], errors: FormErrors, rows: int = FUND_ROWS) -> tuple[FundLine, ...]:
    lines = []
    for index in range(1, rows + 1):
        allocation = values.get(f"fund-{index}-allocation", "").strip()
        amount = values.get(f"fund-{index}-amount", "").strip()
        if not allocation and not amount:
            continue
        allocation_id = _int(allocation)
        if allocation_id is None:
            errors.add(f"fund-{index}-allocation", f"Choose the fund allocation of line {index}")
            continue
        try:
            pence = parse_pounds(amount, field=f"fund-{index}-amount", label=f"Amount of fund line {index}",
                                 allow_zero=False)
        except ValidationFailed as error:
            errors.add_error(error, f"fund-{index}-amount")
            continue
        lines.append(FundLine(allocation_id, pence))
    if len({line.allocation_id for line in lines}) != len(lines):
        errors.add("fund-1-allocation", "Name each fund allocation once")
    return tuple(lines)


def parse_competition_form(values: Mapping[str, str], evaluator_ids: Sequence[str],
                           default_organisation_id: int | None) -> ParsedForm:
    """The buyer's competition form: details, dates (London), criteria rows, evaluators and fund lines."""
    errors = FormErrors()
    kept: dict[str, Any] = dict(values)
    kept["evaluator_ids"] = [str(v) for v in evaluator_ids]

    organisation_id = _int(values.get("buyer_organisation_id", "")) or default_organisation_id
    if organisation_id is None:
        errors.add("buyer_organisation_id", "Choose the organisation buying")
    category_id = _int(values.get("category_id", ""))
    if category_id is None:
        errors.add("category_id", "Choose the category of the DPS to run the competition in")
    title = values.get("title", "").strip()
    if not title:
        errors.add("title", "Enter a title for the competition")
    elif len(title) > 200:
        errors.add("title", "The title must be 200 characters or fewer")
    requirement = values.get("requirement", "").strip()
    if not requirement:
        errors.add("requirement", "Describe the requirement suppliers are bidding for")
    estimated = None
    try:
        estimated = parse_pounds(values.get("estimated_value", ""), field="estimated_value",
                                 label="Estimated value")
    except ValidationFailed as error:
        errors.add_error(error, "estimated_value")

    def read(parser: Any, *args: Any) -> Any:
        try:
            return parser(values, *args)
        except ValidationFailed as error:
            errors.add_error(error, args[0])
            return None

    starts_on = read(parse_date_input, "contract_starts_on", "Contract start date")
    ends_on = read(parse_date_input, "contract_ends_on", "Contract end date")
    if starts_on and ends_on and ends_on < starts_on:
        errors.add("contract_ends_on", "The contract must end after it starts")
    clarification_deadline = read(parse_london_deadline, "clarification_deadline", "Clarification deadline")
    tender_deadline = read(parse_london_deadline, "tender_deadline", "Tender deadline")
    errors.add_all(check_deadlines(clarification_deadline=clarification_deadline, tender_deadline=tender_deadline,
                                   contract_starts_on=starts_on))
    criteria = parse_criteria(values, errors)
    evaluators = tuple(sorted({n for v in evaluator_ids if (n := whole_number(str(v))) is not None}))
    if not evaluators:
        errors.add("evaluator_ids", "Choose at least one evaluator")
    fund_lines = parse_fund_lines(values, errors)
    parsed = ParsedForm(values=kept, errors=errors)
    if not errors:
        parsed.data = CompetitionInput(
            buyer_organisation_id=organisation_id or 0, category_id=category_id or 0, title=title,
            requirement=requirement, estimated_value_pence=estimated or 0, contract_starts_on=starts_on,
            contract_ends_on=ends_on, clarification_deadline=clarification_deadline,
            tender_deadline=tender_deadline, criteria=criteria, evaluator_user_ids=evaluators,
            fund_lines=fund_lines, fund_line_fields=tuple(
                f"fund-{row}-allocation" for row in range(1, FUND_ROWS + 1)
                if values.get(f"fund-{row}-allocation", "").strip() or values.get(f"fund-{row}-amount", "").strip()))
    return parsed


def _deadline_parts(prefix: str, instant: datetime) -> dict[str, str]:
    local = instant.astimezone(LONDON)
    return {**date_input_values(prefix, local.date()), f"{prefix}-time": local.strftime("%H:%M")}


def form_values_of(competition: Any, evaluator_ids: Sequence[int]) -> dict[str, Any]:
    """A stored competition as the values its edit form shows (the inverse of parse_competition_form)."""
    values: dict[str, Any] = {
        "buyer_organisation_id": str(competition.buyer_organisation_id),
        "category_id": str(competition.category_id), "title": competition.title,
        "requirement": competition.requirement, "estimated_value": pounds_for_form(competition.estimated_value_pence),
        **date_input_values("contract_starts_on", competition.contract_starts_on),
        **date_input_values("contract_ends_on", competition.contract_ends_on),
        **_deadline_parts("clarification_deadline", competition.clarification_deadline),
        **_deadline_parts("tender_deadline", competition.tender_deadline),
        "evaluator_ids": [str(i) for i in evaluator_ids],
    }
    for row in competition.criteria:
        criterion = Criterion.from_json(row)
        if criterion.is_price:
            values["price-weight"] = str(criterion.weight)
            continue
        values.update({f"{criterion.key}-kind": str(criterion.kind), f"{criterion.key}-title": criterion.title,
                       f"{criterion.key}-question": criterion.question,
                       f"{criterion.key}-weight": str(criterion.weight),
                       f"{criterion.key}-max_score": str(criterion.max_score or ""),
                       f"{criterion.key}-word_limit": str(criterion.word_limit or "")})
    for index, line in enumerate(competition.fund_lines, start=1):
        values[f"fund-{index}-allocation"] = str(line["allocation_id"])
        values[f"fund-{index}-amount"] = pounds_for_form(int(line["pence"]))
    return values


@dataclass
class BidForm:
    answers: dict[str, str]
    price_pence: int | None
    vat_pence: int | None
    values: dict[str, str]
    errors: FormErrors = field(default_factory=FormErrors)


def parse_bid_form(values: Mapping[str, str], criteria: Sequence[Criterion]) -> BidForm:
    answers = {c.key: values.get(f"answer-{c.key}", "").strip() for c in criteria if not c.is_price}
    errors = FormErrors()
    price = vat = None
    if values.get("price", "").strip():
        try:
            price = parse_pounds(values["price"], field="price", label="Price")
        except ValidationFailed as error:
            errors.add_error(error)
    if values.get("vat", "").strip():
        try:
            vat = parse_pounds(values["vat"], field="vat", label="VAT")
        except ValidationFailed as error:
            errors.add_error(error)
    return BidForm(answers, price, vat, dict(values), errors)


def parse_milestones(values: Mapping[str, str], errors: FormErrors) -> list[Milestone]:
    milestones = []
    for index in range(1, MILESTONE_ROWS + 1):
        title = values.get(f"milestone-{index}-title", "").strip()
        amount = values.get(f"milestone-{index}-amount", "").strip()
        if not title and not amount:
            continue
        try:
            due_on = parse_date_input(values, f"milestone-{index}-due", f"Due date of milestone {index}")
            pence = parse_pounds(amount, field=f"milestone-{index}-amount", label=f"Amount of milestone {index}")
        except ValidationFailed as error:
            errors.add_error(error, f"milestone-{index}-title")
            continue
        if not title:
            errors.add(f"milestone-{index}-title", f"Give milestone {index} a title")
            continue
        milestones.append(Milestone(title, due_on, pence))
    return milestones


def milestone_values(milestones: Sequence[Milestone]) -> dict[str, str]:
    values: dict[str, str] = {}
    for index, milestone in enumerate(milestones, start=1):
        values[f"milestone-{index}-title"] = milestone.title
        values[f"milestone-{index}-amount"] = pounds_for_form(milestone.amount_pence)
        values.update(date_input_values(f"milestone-{index}-due", milestone.due_on))
    return values


def fund_line_values(lines: Sequence[FundLine]) -> dict[str, str]:
    values: dict[str, str] = {}
    for index, line in enumerate(lines, start=1):
        values[f"fund-{index}-allocation"] = str(line.allocation_id)
        values[f"fund-{index}-amount"] = pounds_for_form(line.pence)
    return values

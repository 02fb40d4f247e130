"""Questions asked in sections of a form, and checking what was typed into them. Pure: no I/O, no clock.

The application questionnaire (dps.admission.questionnaire) and the listing form (catalogue.rules) are both built
from these, and share the assurance sections of dps.assurance.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dps.calendar import financial_year_bounds
from dps.dates import DATE_PARTS, parse_date_input
from dps.errors import ValidationFailed
from dps.forms import FormErrors, label_in_sentence
from dps.money import parse_pounds

YES_NO = (("yes", "Yes"), ("no", "No"))
# Longest answers, in characters: a paragraph-length answer, and one line (a name, a number, a web address).
MAX_TEXT = 5000
MAX_LINE = 300
_WEB_ADDRESS = re.compile(r"https?://[^\s/]+\.[^\s]+")


@dataclass(frozen=True)
class Question:
    key: str
    label: str
    kind: str  # yes_no | choice | text | textarea | money | date | url | financial_year
    hint: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    required: bool = True
    # Only asked (and required) when another answer in the section, itself asked, has one of these values.
    when: tuple[str, tuple[str, ...]] | None = None
    # The message when a required question is left unanswered, naming it in plain words as the NHS service manual
    # asks ("Select yes if DTAC applies to your product"). Without one it is made from the label ("Select the DSPT
    # status", "Enter the certificate number"): a question whose label is a question or an instruction needs one.
    missing: str = ""

    @property
    def max_length(self) -> int:
        return MAX_TEXT if self.kind == "textarea" else MAX_LINE

    @property
    def missing_message(self) -> str:
        if self.missing:
            return self.missing
        return f"{'Select' if self.choices else 'Enter'} the {label_in_sentence(self.label.rstrip('?'))}"


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    intro: str
    questions: tuple[Question, ...]
    # Assurance that expires, other than the assurance sections (dps.assurance knows theirs):
    # (kind shown to people, key of the expiry-date question).
    expiry: tuple[str, str] | None = None


def asked_keys(section: Section, values: Mapping[str, str]) -> frozenset[str]:
    """The questions asked, given the answers typed: a question that depends on another is asked only when that
    one is asked and answered with a value it names (so a left-over answer to a hidden question counts for nothing)."""
    asked: set[str] = set()
    for question in section.questions:
        if question.when is None:
            asked.add(question.key)
            continue
        other, accepted = question.when
        if other in asked and values.get(other, "") in accepted:
            asked.add(question.key)
    return frozenset(asked)


@dataclass
class SectionResult:
    values: dict[str, str]  # what was typed, always kept
    answers: dict[str, Any] = field(default_factory=dict)  # clean values (pence, ISO dates) of asked questions
    errors: FormErrors = field(default_factory=FormErrors)

    @property
    def complete(self) -> bool:
        return not self.errors


def raw_values(section: Section, form: Mapping[str, str]) -> dict[str, str]:
    """The section's fields of a posted form (a date question posts three), trimmed; kept whole, so an answer
    that is too long is shown back with its error rather than cut short."""
    keys: list[str] = []
    for question in section.questions:
        keys += [f"{question.key}-{part}" for part in DATE_PARTS] if question.kind == "date" else [question.key]
    return {key: form.get(key, "").strip() for key in keys}


def _clean_answer(question: Question, value: str) -> Any:
    """The clean value of one answered question; ValidationFailed names what is wrong with it."""
    label = question.label.rstrip("?")
    if len(value) > question.max_length:
        raise ValidationFailed(f"{label} must be {question.max_length:,} characters or fewer", field=question.key)
    if question.choices and value not in {choice for choice, _ in question.choices}:
        raise ValidationFailed(question.missing_message, field=question.key)
    if question.kind == "money":
        return parse_pounds(value, field=question.key, label=label)
    if question.kind == "url" and not _WEB_ADDRESS.fullmatch(value):
        raise ValidationFailed("Enter a web address starting with https://", field=question.key)
    if question.kind == "financial_year":
        try:
            financial_year_bounds(value)
        except ValidationFailed:
            raise ValidationFailed(f"Enter the {label_in_sentence(label)} like 2025/26", field=question.key) from None
    return value


def validate_section(section: Section, form: Mapping[str, str]) -> SectionResult:
    """What was typed into a section: clean answers of the questions asked, and an error for each one that is
    missing or wrong (optional questions left empty are simply not answered)."""
    values = raw_values(section, form)
    result = SectionResult(values=values)
    asked = asked_keys(section, values)
    for question in section.questions:
        if question.key not in asked:
            continue
        label = question.label.rstrip("?")
        try:
            if question.kind == "date":
                result.answers[question.key] = parse_date_input(values, question.key, label).isoformat()
                continue
            value = values[question.key]
            if not value:
                if question.required:
                    result.errors.add(question.key, question.missing_message)
                continue
            result.answers[question.key] = _clean_answer(question, value)
        except ValidationFailed as problem:
            result.errors.add_error(problem, question.key)
    return result

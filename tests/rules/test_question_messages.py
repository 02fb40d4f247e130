"""Every question of the application, the assurance sections and the listing form names itself in plain words
when it is left unanswered or answered with something it does not offer (NHS service manual: "Select yes if DTAC
applies to your product", never "Select an answer: <question>")."""

from __future__ import annotations

import pytest

from catalogue.rules import LISTING_ASSURANCE_SECTIONS
from dps.admission.questionnaire import SECTIONS
from dps.questions import Section, asked_keys, validate_section

ALL_SECTIONS = {section.key: section for section in (*SECTIONS, *LISTING_ASSURANCE_SECTIONS)}


def _every_question_asked(section: Section) -> dict[str, str]:
    """Answers that make every question of the section asked (each question it depends on answered as it needs)."""
    answers: dict[str, str] = {}
    for question in section.questions:
        if question.when is not None:
            answers[question.when[0]] = question.when[1][0]
    return answers


@pytest.mark.parametrize("key", sorted(ALL_SECTIONS))
def test_each_unanswered_question_is_named_in_plain_words(key):
    section = ALL_SECTIONS[key]
    answers = _every_question_asked(section)
    result = validate_section(section, answers)
    asked = asked_keys(section, answers)
    for question in section.questions:
        if question.key in answers or question.key not in asked or not question.required:
            continue
        message = result.errors.message(question.key)
        assert message, question.key
        assert not message.startswith(("Select an answer", "Enter an answer", "Select one of the options")), message
        assert ":" not in message and "?" not in message, message  # a sentence, not "<verb>: <question>"
        if question.kind == "yes_no":
            assert message.startswith("Select yes if "), message
        elif question.choices:
            assert message.startswith("Select "), message
        elif question.kind != "date":
            assert message.startswith(("Enter ", "Give ")), message


@pytest.mark.parametrize("key", sorted(ALL_SECTIONS))
def test_an_answer_a_question_does_not_offer_is_refused_in_the_same_words(key):
    section = ALL_SECTIONS[key]
    for question in section.questions:
        if not question.choices:
            continue
        answers = {**_every_question_asked(section), question.key: "not-an-option"}
        if question.key not in asked_keys(section, answers):
            continue
        assert validate_section(section, answers).errors.message(question.key) == question.missing_message

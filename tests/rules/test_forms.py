"""The one carrier of form errors, shared by pure rules, services and the pages' NHS.UK error summary."""

from __future__ import annotations

import pytest

from dps.errors import ValidationFailed
from dps.forms import FormErrors, InputInvalid, label_in_sentence


def test_errors_link_each_message_to_its_field_in_the_order_found():
    errors = FormErrors()
    errors.add("title", "Enter a title")
    errors.add("price", "Enter the price in pounds")
    errors.add("title", "A second message for a field is not shown")
    assert errors.summary() == [{"text": "Enter a title", "href": "#title"},
                                {"text": "Enter the price in pounds", "href": "#price"}]
    assert errors.get("price") == {"text": "Enter the price in pounds"}  # the component's errorMessage
    assert errors.get("name") is None and errors.message("name") is None
    assert "title" in errors and "name" not in errors and list(errors) == ["title", "price"]


def test_no_errors_is_false_so_pages_can_ask_if_errors():
    assert not FormErrors()
    assert FormErrors.of({"a": "b"})


def test_a_section_s_errors_join_a_bigger_form_under_its_prefix():
    errors = FormErrors.of({"name": "Enter a name"})
    errors.add_all(FormErrors.of({"version": "Enter the version"}), prefix="dtac__")
    assert errors.messages == {"name": "Enter a name", "dtac__version": "Enter the version"}


def test_a_refused_rule_becomes_errors_and_every_field_of_a_refused_form_is_kept():
    assert FormErrors.from_error(ValidationFailed("Too late", field="deadline")).messages == {"deadline": "Too late"}
    assert FormErrors.from_error(ValidationFailed("Refused")).messages == {"form": "Refused"}
    many = InputInvalid(FormErrors.of({"email": "Enter an email address", "role": "Select a role"}))
    assert (str(many), many.field) == ("Enter an email address", "email")  # still a plain ValidationFailed
    assert FormErrors.from_error(many, prefix="x-").messages == {"x-email": "Enter an email address",
                                                                 "x-role": "Select a role"}
    with pytest.raises(ValueError):
        InputInvalid(FormErrors())


def test_errors_can_be_listed_in_the_page_s_order():
    errors = FormErrors.of({"email": "e", "other": "o", "full_name": "n"})
    assert list(errors.ordered(["full_name", "email"])) == ["full_name", "email", "other"]


@pytest.mark.parametrize(("label", "inside"), [
    ("Annual turnover", "annual turnover"), ("VAT", "VAT"), ("DTAC version", "DTAC version"), ("", ""),
    ("Amount of milestone 2", "amount of milestone 2"),
])
def test_a_label_reads_naturally_inside_a_sentence(label, inside):
    assert label_in_sentence(label) == inside


def test_a_rule_s_message_moves_onto_the_box_of_its_row():
    errors = FormErrors.from_error(ValidationFailed("Enter what was delivered", field="note"))
    assert errors.on_field("note-7").messages == {"note-7": "Enter what was delivered"}
    assert FormErrors().on_field("note-7").messages == {}

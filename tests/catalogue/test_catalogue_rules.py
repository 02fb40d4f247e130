"""Pure catalogue rules: the listing form, the state machine, assurance expiries, Markdown and PDF checks, and the
embedded engine's word rules."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalogue import rules
from catalogue.rules import ListingEvent, ListingState, next_listing_state
from catalogue.search.tantivy_index import ANALYZER, typo_distance
from dps.errors import IllegalTransition
from tests.catalogue.support import LISTING_FORM


def check(overrides=None, allowed=(5,)):
    return rules.check_listing_form({**LISTING_FORM, "category_id": "5", **(overrides or {})},
                                    allowed_category_ids=allowed, known_icbs={"QMF", "QWE"})


def test_a_complete_form_gives_clean_content():
    result = check()
    assert result.errors.messages == {}
    content = result.content
    assert content.indicative_price_pence == 25000
    assert content.icbs_using == ("QMF", "QWE")
    assert content.assurance["nice"] == {"esf_tier": "b", "guidance": ["MTG32"], "mtfm": "yes"}
    assert content.assurance["cyber_essentials"]["expiry"] == "2026-09-30"


def test_only_admitted_categories_and_known_values_are_accepted():
    assert "category_id" in check(allowed=(6,)).errors
    assert "care_settings" in check({"care_settings": ["moon-base"]}).errors
    assert "icbs_using" in check({"icbs_using": "QXX"}).errors
    assert check({"pricing_model": "on-request", "indicative_price": ""}).errors.messages == {}


def test_assurance_that_does_not_apply_needs_no_further_answers():
    result = check({"dtac__applies": "no", "dtac__version": "", "dtac__c1_clinical_safety": "",
                    "dspt__applies": "no", "dspt__year": "", "medical_device__device_class": "not_a_device",
                    "medical_device__mark": "", "nice__guidance": ""})
    assert result.errors.messages == {}
    assert result.content.assurance["dtac"] == {"applies": "no"}


def test_state_machine():
    assert next_listing_state(ListingState.DRAFT, ListingEvent.PUBLISH) == ListingState.PUBLISHED
    assert next_listing_state(ListingState.PUBLISHED, ListingEvent.EDIT) == ListingState.PUBLISHED
    assert next_listing_state(ListingState.UNPUBLISHED, ListingEvent.PUBLISH) == ListingState.PUBLISHED
    with pytest.raises(IllegalTransition, match="A listing that is a draft cannot be withdrawn"):
        next_listing_state(ListingState.DRAFT, ListingEvent.WITHDRAW)
    with pytest.raises(IllegalTransition):
        next_listing_state(ListingState.WITHDRAWN, ListingEvent.UNPUBLISH)
    assert rules.is_searchable("published", "active")
    assert not rules.is_searchable("published", "suspended")
    assert not rules.is_searchable("draft", "active")


def test_expiries_are_marked_and_warned_30_days_ahead():
    assurance = check().content.assurance
    today = date(2026, 9, 1)
    expiries = {e.kind: e for e in rules.assurance_expiries(assurance, today)}
    assert expiries["Cyber Essentials certificate"].expiring_soon
    assert not expiries["Cyber Essentials certificate"].expired
    assert expiries["Data Security and Protection Toolkit status"].expires_on == date(2026, 6, 30)
    assert expiries["Data Security and Protection Toolkit status"].expired
    summary = rules.assurance_summary(assurance, today)
    assert summary["earliest_expiry"] == "2026-06-30" and summary["dtac"]["complete"]


def test_a_ce_mark_is_accepted_only_until_the_earlier_of_certificate_expiry_and_the_gb_deadline():
    assurance = {"medical_device": {"device_class": "class_iia", "mark": "ce", "ce_basis": "mdd",
                                    "certificate_expiry": "2029-12-31"}}
    kinds = {e.kind: e.expires_on for e in rules.assurance_expiries(assurance, date(2026, 1, 1))}
    assert kinds["CE mark accepted in Great Britain"] == date(2028, 6, 30)
    assurance["medical_device"]["ce_basis"] = "eu_mdr"
    kinds = {e.kind: e.expires_on for e in rules.assurance_expiries(assurance, date(2026, 1, 1))}
    assert kinds["CE mark accepted in Great Britain"] == date(2029, 12, 31)


def test_markdown_keeps_formatting_and_drops_html_images_and_unsafe_links():
    html = str(rules.render_description(
        "# Title\n\n**bold** <img src=x onerror=alert(1)> ![i](https://x/y.png) [a](javascript:alert(1)) "
        "[b](https://www.nhs.uk)"))
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert "<img" not in html and "&lt;img" in html
    assert 'href="javascript' not in html
    assert 'href="https://www.nhs.uk" rel="nofollow noopener noreferrer"' in html


@given(st.text(max_size=300))
def test_markdown_never_lets_a_tag_through(text):
    html = str(rules.render_description(text))
    assert "<script" not in html.lower() and "<iframe" not in html.lower() and " onerror=" not in html.lower()


# Plain words and whitespace, with the punctuation of ordinary sentences, and now and then a Markdown character.
_PROSE = st.text(alphabet=st.sampled_from(list("ab yz09.,;:'\"()?/%-+=)\n\r\t\u00a0\u2028") + ["*", "#", "&"]),
                 max_size=80)


@given(_PROSE)
def test_plain_text_skips_the_markdown_parser_and_gives_the_same_words(text):
    assert rules.markdown_as_text(text) == rules.parsed_markdown_words(text)


def test_the_words_of_markdown_drop_its_syntax():
    assert rules.markdown_as_text("## Fast **triage**\n\n- one\n- two\n\n1. three") == "Fast triage one two three"
    assert rules.markdown_as_text("Heading\n---\nText  \nmore") == "Heading Text more"
    assert rules.markdown_as_text("A plain\n  sentence,  (with) 3.5 words.") == "A plain sentence, (with) 3.5 words."


def test_evidence_is_checked_by_content_not_by_name():
    pdf = b"%PDF-1.7\n...\n%%EOF\n"
    assert rules.check_evidence("Trial results", pdf).messages == {}
    not_a_pdf = rules.check_evidence("Trial results", b"MZ\x90\x00 not a pdf %%EOF")
    assert not_a_pdf.message("file") == "The selected file must be a PDF"
    assert rules.check_evidence("", pdf).message("title")
    too_big = rules.check_evidence("Big", b"%PDF-" + b"0" * rules.EVIDENCE_MAX_BYTES + b"%%EOF")
    assert "smaller than" in too_big.message("file")
    assert rules.safe_filename("..\\..\\My Trial (final).PDF") == "My-Trial-final.pdf"


def test_typos_allowed_follow_word_length():
    assert [typo_distance(word) for word in ("ecg", "ward", "patch", "wearable", "telehealth", "colonoscopy")] \
        == [0, 0, 1, 1, 2, 2]
    assert typo_distance("24x7a") == 0  # codes and numbers are matched as typed


@given(st.text(alphabet=st.characters(categories=("Ll",)), min_size=1, max_size=30))
def test_typo_allowance_never_shrinks_as_a_word_grows(word):
    assert typo_distance(word) <= typo_distance(word + "a")


def test_words_are_split_lower_cased_and_unaccented_as_the_index_sees_them():
    assert ANALYZER.analyze("Café-based ECG_patch, 24/7") == ["cafe", "based", "ecg", "patch", "24", "7"]

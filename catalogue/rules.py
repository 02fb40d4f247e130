"""Catalogue rules: what a listing holds, how its form is checked, its state machine, its assurance summary
(RULES.md section 4) and the safety checks on what suppliers give us (Markdown, PDF evidence). Pure: no I/O,
no clock reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markupsafe import Markup

from dps import documents
from dps.admission.rules import StateMachine
from dps.assurance import (
    ASSURANCE_SECTIONS,
    DEVICE_CLASS,
    DEVICE_MARK,
    DSPT_STATUS,
    DTAC_STATUS,
    ESF_TIERS,
    dtac_complete,
    expired_evidence,
)
from dps.assurance import (
    assurance_expiries as expiries_of,
)
from dps.dates import date_input_values
from dps.documents import pdf_problem
from dps.errors import ValidationFailed
from dps.forms import FormErrors, whole_number
from dps.money import parse_pounds, pounds_for_form
from dps.questions import YES_NO, Question, Section, validate_section

# --- the listing state machine ----------------------------------------------------------------------------


class ListingState(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"  # by the supplier
    UNPUBLISHED = "unpublished"  # by the authority, with a reason


class ListingEvent(StrEnum):
    PUBLISH = "publish"
    EDIT = "edit"
    WITHDRAW = "withdraw"
    UNPUBLISH = "unpublish"


_S, _E = ListingState, ListingEvent
LISTING_TRANSITIONS: Mapping[tuple[ListingState, ListingEvent], ListingState] = {
    (_S.DRAFT, _E.PUBLISH): _S.PUBLISHED,
    (_S.DRAFT, _E.EDIT): _S.DRAFT,
    # Every edit of a published listing is published at once as a new version.
    (_S.PUBLISHED, _E.EDIT): _S.PUBLISHED,
    (_S.PUBLISHED, _E.WITHDRAW): _S.WITHDRAWN,
    (_S.PUBLISHED, _E.UNPUBLISH): _S.UNPUBLISHED,
    (_S.WITHDRAWN, _E.EDIT): _S.WITHDRAWN,
    (_S.WITHDRAWN, _E.PUBLISH): _S.PUBLISHED,
    # After an authority unpublished it, the supplier corrects the listing and publishes again (audited).
    (_S.UNPUBLISHED, _E.EDIT): _S.UNPUBLISHED,
    (_S.UNPUBLISHED, _E.PUBLISH): _S.PUBLISHED,
}

LISTINGS: StateMachine[ListingState, ListingEvent] = StateMachine(
    subject="A listing",
    state_type=ListingState,
    event_type=ListingEvent,
    transitions=LISTING_TRANSITIONS,
    state_phrases={_S.DRAFT: "a draft", _S.PUBLISHED: "published", _S.WITHDRAWN: "withdrawn",
                   _S.UNPUBLISHED: "unpublished by the DPS authority"},
    event_phrases={_E.PUBLISH: "published", _E.EDIT: "edited", _E.WITHDRAW: "withdrawn",
                   _E.UNPUBLISH: "unpublished"},
)


def next_listing_state(state: ListingState | str, event: ListingEvent | str) -> ListingState:
    return LISTINGS.next_state(state, event)


def is_searchable(state: str, admission_state: str | None) -> bool:
    """A listing is in search only while it is published AND its supplier's admission to the category is active."""
    return state == ListingState.PUBLISHED and admission_state == "active"


# --- choices ----------------------------------------------------------------------------------------------

CARE_SETTINGS: tuple[tuple[str, str], ...] = (
    ("acute", "Acute hospital"),
    ("primary-care", "Primary care"),
    ("community", "Community"),
    ("mental-health", "Mental health"),
    ("home", "At home"),
    ("ambulance", "Ambulance and urgent care"),
    ("social-care", "Social care"),
    ("pharmacy", "Pharmacy"),
)
PRICING_MODELS: tuple[tuple[str, str], ...] = (
    ("per-patient", "Per patient"),
    ("per-procedure", "Per procedure or unit"),
    ("subscription", "Annual subscription or licence"),
    ("one-off", "One-off purchase"),
    ("on-request", "Price on request"),
)
PRICED_MODELS = tuple(value for value, _ in PRICING_MODELS if value != "on-request")
CRP_RESULTS: tuple[tuple[str, str], ...] = (("pass", "Pass"), ("fail", "Fail"), ("not_assessed", "Not yet assessed"))
NICE_GUIDANCE = re.compile(r"^(MTG|DG|HTE|TA|NG|QS|IPG|MIB|HST|CG|ESG)\d{1,4}$")
ICB_CODE = re.compile(r"^Q[A-Z0-9]{2}$")
LABELS: Mapping[str, Mapping[str, str]] = {
    "care_setting": dict(CARE_SETTINGS),
    "device_class": dict(DEVICE_CLASS),
    "device_mark": dict(DEVICE_MARK),
    "esf_tier": dict(ESF_TIERS),
    "dspt_status": {**dict(DSPT_STATUS), "not_applicable": "Not applicable"},
    "dtac_status": dict(DTAC_STATUS),
    "pricing_model": dict(PRICING_MODELS),
    "crp": dict(CRP_RESULTS),
}

# --- the assurance a listing carries: the four sections every supplier answers (dps.assurance), then NICE and
# NHS Supply Chain's requirements. Checked with the same validator as the application questionnaire. ---------

LISTING_ASSURANCE_SECTIONS: tuple[Section, ...] = (
    *ASSURANCE_SECTIONS,
    Section("nice", "NICE and the MedTech Funding Mandate", "", (
        Question("esf_tier", "NICE Evidence Standards Framework tier", "choice", choices=ESF_TIERS),
        Question("guidance", "NICE guidance references", "text", required=False,
                 hint="Separate references with commas, for example MTG32, DG45. Leave empty if none."),
        Question("mtfm", "Is it listed under the MedTech Funding Mandate?", "yes_no", choices=YES_NO,
                 missing="Select yes if the product is listed under the MedTech Funding Mandate"),
    )),
    Section("supply_chain", "NHS Supply Chain supplier requirements", "", (
        Question("carbon_reduction_plan", "Carbon Reduction Plan assessment", "choice", choices=CRP_RESULTS),
        Question("modern_slavery", "Have you completed the Modern Slavery Assessment Tool?", "yes_no",
                 choices=YES_NO, missing="Select yes if you have completed the Modern Slavery Assessment Tool"),
        Question("net_zero", "Have you committed to the NHS net zero supplier roadmap?", "yes_no", choices=YES_NO,
                 missing="Select yes if you have committed to the NHS net zero supplier roadmap"),
    )),
)

NAME_MAX, SUMMARY_MAX, DESCRIPTION_MAX = 120, 300, 10_000
LIST_ITEMS_MAX = 20


@dataclass(frozen=True)
class ListingContent:
    """Everything a supplier says about an innovation; what one version holds."""

    name: str
    summary: str
    description: str
    category_id: int
    care_settings: tuple[str, ...]
    clinical_areas: tuple[str, ...]
    icbs_using: tuple[str, ...]
    trusts_using: tuple[str, ...]
    pricing_model: str
    indicative_price_pence: int | None
    assurance: Mapping[str, Mapping[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "summary": self.summary, "description": self.description,
                "category_id": self.category_id, "care_settings": list(self.care_settings),
                "clinical_areas": list(self.clinical_areas), "icbs_using": list(self.icbs_using),
                "trusts_using": list(self.trusts_using), "pricing_model": self.pricing_model,
                "indicative_price_pence": self.indicative_price_pence,
                "assurance": {key: dict(value) for key, value in self.assurance.items()}}


@dataclass
class ListingForm:
    """The outcome of checking a posted listing form: clean content, or the errors and what was typed."""

    values: dict[str, Any]
    errors: FormErrors = field(default_factory=FormErrors)
    content: ListingContent | None = None


def _split(raw: str, separators: str = ",\n") -> list[str]:
    items = re.split(f"[{re.escape(separators)}]", raw or "")
    seen: list[str] = []
    for item in (" ".join(part.split()) for part in items):
        if item and item not in seen:
            seen.append(item)
    return seen


def check_listing_form(form: Mapping[str, Any], *, allowed_category_ids: Iterable[int],
                       known_icbs: Iterable[str]) -> ListingForm:
    """Check a posted listing form. `form` values are strings, except care_settings (a list of strings).
    A supplier may only list in categories it is actively admitted to (`allowed_category_ids`)."""
    text = {key: str(value).strip() for key, value in form.items() if not isinstance(value, list)}
    care_settings = [value for value in form.get("care_settings", []) or [] if isinstance(value, str)]
    values: dict[str, Any] = {**text, "care_settings": care_settings}
    result = ListingForm(values=values)
    errors = result.errors

    name, summary, description = text.get("name", ""), text.get("summary", ""), text.get("description", "")
    if not name:
        errors.add("name", "Enter the name of the innovation")
    elif len(name) > NAME_MAX:
        errors.add("name", f"Name must be {NAME_MAX} characters or fewer")
    if not summary:
        errors.add("summary", "Enter a one or two sentence summary")
    elif len(summary) > SUMMARY_MAX:
        errors.add("summary", f"Summary must be {SUMMARY_MAX} characters or fewer")
    if not description:
        errors.add("description", "Enter a description")
    elif len(description) > DESCRIPTION_MAX:
        errors.add("description", f"Description must be {DESCRIPTION_MAX:,} characters or fewer")

    allowed = set(allowed_category_ids)
    category_raw = text.get("category_id", "")
    category_id = whole_number(category_raw) or 0
    if not category_raw:
        errors.add("category_id", "Select the category to list the innovation in")
    elif category_id not in allowed:
        errors.add("category_id", "You can only list in a category your organisation is admitted to")

    known_settings = dict(CARE_SETTINGS)
    if not care_settings:
        errors.add("care_settings", "Select at least one care setting")
    elif any(value not in known_settings for value in care_settings):
        errors.add("care_settings", "Select care settings from the list")

    clinical_areas = _split(text.get("clinical_areas", ""))
    if not clinical_areas:
        errors.add("clinical_areas", "Enter at least one clinical area, for example cardiology")
    elif len(clinical_areas) > LIST_ITEMS_MAX or any(len(item) > 80 for item in clinical_areas):
        errors.add("clinical_areas", f"Enter up to {LIST_ITEMS_MAX} clinical areas of 80 characters or fewer")

    icbs = [code.upper() for code in _split(text.get("icbs_using", ""), ", \n")]
    known = set(known_icbs)
    unknown = [code for code in icbs if code not in known]
    if unknown:
        errors.add("icbs_using", "Enter integrated care boards by their ODS code, like QMF; not recognised: "
                   + ", ".join(unknown[:5]))
    trusts = _split(text.get("trusts_using", ""), "\n")
    if len(trusts) > 50 or any(len(item) > 200 for item in trusts):
        errors.add("trusts_using", "Enter up to 50 trusts, one a line")

    pricing_model = text.get("pricing_model", "")
    price: int | None = None
    if pricing_model not in dict(PRICING_MODELS):
        errors.add("pricing_model", "Select a pricing model")
    elif pricing_model in PRICED_MODELS:
        if not text.get("indicative_price"):
            errors.add("indicative_price", "Enter an indicative price in pounds, or choose price on request")
        else:
            try:
                price = parse_pounds(text["indicative_price"], field="indicative_price", label="Indicative price")
            except ValidationFailed as problem:
                errors.add_error(problem)

    assurance: dict[str, dict[str, Any]] = {}
    for section in LISTING_ASSURANCE_SECTIONS:
        prefixed = {key[len(section.key) + 2:]: value for key, value in text.items()
                    if key.startswith(section.key + "__")}
        checked = validate_section(section, prefixed)
        errors.add_all(checked.errors, prefix=f"{section.key}__")
        answers = dict(checked.answers)
        if section.key == "nice":
            guidance = [ref.upper().replace(" ", "") for ref in _split(prefixed.get("guidance", ""), ", \n")]
            bad = [ref for ref in guidance if not NICE_GUIDANCE.match(ref)]
            if bad:
                errors.add("nice__guidance", "Enter NICE guidance references like MTG32 or DG45; not recognised: "
                           + ", ".join(bad[:5]))
            answers["guidance"] = guidance
        assurance[section.key] = answers

    if not errors:
        result.content = ListingContent(
            name=name, summary=summary, description=description, category_id=category_id,
            care_settings=tuple(care_settings), clinical_areas=tuple(clinical_areas), icbs_using=tuple(icbs),
            trusts_using=tuple(trusts), pricing_model=pricing_model, indicative_price_pence=price,
            assurance=assurance)
    return result


def form_values_of(content: Mapping[str, Any]) -> dict[str, Any]:
    """The form values that show a stored listing's content again (for editing)."""
    values: dict[str, Any] = {
        "name": content.get("name") or "", "summary": content.get("summary") or "",
        "description": content.get("description") or "", "category_id": str(content.get("category_id") or ""),
        "care_settings": list(content.get("care_settings") or []),
        "clinical_areas": ", ".join(content.get("clinical_areas") or []),
        "icbs_using": ", ".join(content.get("icbs_using") or []),
        "trusts_using": "\n".join(content.get("trusts_using") or []),
        "pricing_model": content.get("pricing_model") or "",
    }
    price = content.get("indicative_price_pence")
    if price is not None:
        values["indicative_price"] = pounds_for_form(price)
    for section in LISTING_ASSURANCE_SECTIONS:
        answers = content.get("assurance", {}).get(section.key, {})
        for question in section.questions:
            key, answer = f"{section.key}__{question.key}", answers.get(question.key)
            if answer is None:
                continue
            if question.kind == "date":
                values.update(date_input_values(key, date.fromisoformat(answer)))
            elif isinstance(answer, list):
                values[key] = ", ".join(answer)
            else:
                values[key] = str(answer)
    return values


# --- assurance summary and expiries -----------------------------------------------------------------------


def expired_listing_evidence(assurance: Mapping[str, Mapping[str, Any]], today: date) -> FormErrors:
    """Evidence of a listing that had already expired on `today`, against its form field ("cyber_essentials__expiry"),
    with a message naming the question. A listing keeps expired evidence visible (RULES.md section 4: expired
    assurance is shown to buyers), so this is a warning on the page while it is a draft, and a refusal to publish it
    (or to publish an edit of a published listing) until the evidence is updated."""
    errors = FormErrors()
    for section in ASSURANCE_SECTIONS:
        errors.add_all(expired_evidence(section.key, assurance.get(section.key, {}), today), prefix=f"{section.key}__")
    return errors


def assurance_form_values(assurance: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The listing form's assurance fields filled with these clean answers of the four assurance sections (for
    example those of the application that admitted the supplier): a listing starts from what its admission holds."""
    sections = {key: answers for key, answers in assurance.items() if key in {s.key for s in ASSURANCE_SECTIONS}}
    return {key: value for key, value in form_values_of({"assurance": sections}).items() if "__" in key}


NO_EXPIRY = date(9999, 12, 31)


@dataclass(frozen=True)
class Expiry:
    kind: str
    expires_on: date
    expired: bool
    expiring_soon: bool  # within 30 days: the supplier is warned


def assurance_expiries(assurance: Mapping[str, Mapping[str, Any]], today: date) -> list[Expiry]:
    """Every dated assurance of a listing, earliest first, marked expired or expiring soon on `today`."""
    return [Expiry(item.kind, item.expires_on, item.expired(today), item.expiring_soon(today))
            for item in expiries_of(assurance)]


def assurance_summary(assurance: Mapping[str, Mapping[str, Any]], today: date) -> dict[str, Any]:
    """The assurance buyers and API consumers see; facts, not the form's answers."""
    dtac = assurance.get("dtac", {})
    dspt = assurance.get("dspt", {})
    cyber = assurance.get("cyber_essentials", {})
    device = assurance.get("medical_device", {})
    nice = assurance.get("nice", {})
    chain = assurance.get("supply_chain", {})
    expiries = assurance_expiries(assurance, today)
    return {
        "dtac": {"applies": dtac.get("applies") == "yes", "complete": dtac_complete(dtac),
                 "version": dtac.get("version")},
        "dspt": {"status": dspt.get("status") if dspt.get("applies") == "yes" else "not_applicable",
                 "year": dspt.get("year")},
        "cyber_essentials": {"level": cyber.get("level", "none"), "expires_on": cyber.get("expiry")},
        "medical_device": {"class": device.get("device_class", "not_a_device"), "mark": device.get("mark"),
                           "mhra_reference": device.get("mhra_reference"),
                           "certificate_expires_on": device.get("certificate_expiry")},
        "nice_esf_tier": nice.get("esf_tier", "not_applicable"),
        "nice_guidance": list(nice.get("guidance", [])),
        "mtfm": nice.get("mtfm") == "yes",
        "carbon_reduction_plan": chain.get("carbon_reduction_plan"),
        "modern_slavery_assessment": chain.get("modern_slavery") == "yes",
        "net_zero_commitment": chain.get("net_zero") == "yes",
        "expiries": [{"kind": e.kind, "expires_on": e.expires_on.isoformat()} for e in expiries],
        "earliest_expiry": expiries[0].expires_on.isoformat() if expiries else None,
    }


# --- description: Markdown with raw HTML disabled ---------------------------------------------------------

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.disable(["image", "html_block", "html_inline"])
_SAFE_LINK = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)


def _link_open(renderer: RendererHTML, tokens: Any, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    href = token.attrGet("href") or ""
    if not _SAFE_LINK.match(href):
        token.attrSet("href", "#")
    token.attrSet("rel", "nofollow noopener noreferrer")
    return renderer.renderToken(tokens, idx, options, env)


_markdown.add_render_rule("link_open", _link_open)


def render_description(text: str) -> Markup:
    """A supplier's description as HTML: Markdown (CommonMark) with raw HTML and images disabled, links limited
    to http(s) and mailto. Everything the supplier typed is escaped; only Markdown's own tags are produced."""
    return Markup(_markdown.render(text or ""))  # markdown-it escapes all text; raw HTML is disabled


# Anything that can make Markdown of plain words: syntax characters anywhere, or a line that starts a list, a heading
# underline or a thematic break. Text without any of it is its own words (the reindex of every listing asks this).
_MARKDOWN_SYNTAX = re.compile(r"[\\`*_\[\]<>&#!|~]|(?:^|\r)[ \t]*(?:[-+=]|\d+[.)])", re.MULTILINE)


def markdown_as_text(text: str) -> str:
    """The words of a Markdown text without its syntax, for a search snippet: "## Fast **triage**" -> "Fast triage"."""
    if not _MARKDOWN_SYNTAX.search(text or ""):
        return " ".join((text or "").split())
    return parsed_markdown_words(text)


def parsed_markdown_words(text: str) -> str:
    """markdown_as_text through the Markdown parser, whatever the text."""
    parts: list[str] = []
    for token in _markdown.parse(text or ""):
        if token.type == "inline":
            parts.extend(" " if child.type in ("softbreak", "hardbreak") else child.content
                         for child in token.children or () if child.type in ("text", "code_inline", "softbreak",
                                                                                "hardbreak"))
            parts.append(" ")
        elif token.type in ("code_block", "fence"):
            parts.append(token.content + " ")
    return " ".join("".join(parts).split())


# --- evidence documents -----------------------------------------------------------------------------------

EVIDENCE_MAX_BYTES = 5 * 1024 * 1024
EVIDENCE_TITLE_MAX = 150


def check_evidence(title: str, content: bytes, filename: str = "") -> FormErrors:
    """The errors of an evidence upload; empty when it is acceptable. The file is checked by its content
    (dps.documents: a PDF whatever its name or declared type says)."""
    errors = FormErrors()
    if not title.strip():
        errors.add("title", "Enter a title for the document")
    elif len(title.strip()) > EVIDENCE_TITLE_MAX:
        errors.add("title", f"Title must be {EVIDENCE_TITLE_MAX} characters or fewer")
    problem = pdf_problem(content, filename=filename, max_bytes=EVIDENCE_MAX_BYTES)
    if problem:
        errors.add("file", problem)
    return errors


def safe_filename(raw: str) -> str:
    """A download name for a piece of evidence (dps.documents.safe_filename)."""
    return documents.safe_filename(raw, fallback="evidence")


def prefixed_sections() -> list[tuple[Section, list[Question]]]:
    """The assurance sections with form field names prefixed by their section ("dtac__version"), so one form can
    hold them all and the questionnaire's field macro can render them."""
    result = []
    for section in LISTING_ASSURANCE_SECTIONS:
        questions = [replace(q, key=f"{section.key}__{q.key}",
                             when=(f"{section.key}__{q.when[0]}", q.when[1]) if q.when else None)
                     for q in section.questions]
        result.append((section, questions))
    return result

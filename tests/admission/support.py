"""Helpers for admission tests: valid questionnaire answers as a supplier would type them, and the application
pages driven over HTTP."""

from __future__ import annotations

import re
from typing import Any

from tests.helpers import post_form

VALID_ANSWERS: dict[str, dict[str, str]] = {
    "mandatory_exclusion": {"grounds_apply": "no"},
    "discretionary_exclusion": {"grounds_apply": "no"},
    "economic_financial": {"latest_turnover": "2,500,000", "accounts_year_end-day": "31",
                           "accounts_year_end-month": "3", "accounts_year_end-year": "2025", "going_concern": "no"},
    "insurance": {"employers_liability": "5,000,000", "public_liability": "10000000",
                  "professional_indemnity": "£2,000,000.00", "insurance_expiry-day": "30",
                  "insurance_expiry-month": "9", "insurance_expiry-year": "2026"},
    "carbon_reduction_plan": {"published": "yes", "plan_url": "https://acme.example/carbon",
                              "net_zero_commitment": "yes"},
    "modern_slavery": {"completed": "yes", "completed_on-day": "1", "completed_on-month": "10",
                       "completed_on-year": "2025"},
    "cyber_essentials": {"level": "cyber_essentials_plus", "certificate_number": "CE-123456",
                         "expiry-day": "15", "expiry-month": "1", "expiry-year": "2026"},
    "dspt": {"applies": "yes", "year": "2025/26", "status": "standards_met"},
    "dtac": {"applies": "yes", "version": "2024", "c1_clinical_safety": "passed", "c2_data_protection": "passed",
             "c3_technical_security": "passed", "c4_interoperability": "in_progress",
             "d_usability_accessibility": "passed"},
    "medical_device": {"device_class": "class_iia", "mark": "ukca", "mhra_reference": "MHRA-0001",
                       "certificate_expiry-day": "1", "certificate_expiry-month": "6",
                       "certificate_expiry-year": "2028"},
    "nice_esf": {"tier": "b"},
}


async def start_application(client: Any, category: int) -> int:
    response = await post_form(client, "/supplier/applications", {"category_id": str(category)},
                               form_page="/supplier/applications/new")
    assert response.status_code == 303, response.text
    return int(re.search(r"/supplier/applications/(\d+)$", response.headers["location"]).group(1))


async def answer_everything(client: Any, application_id: int) -> None:
    for key, answers in VALID_ANSWERS.items():
        path = f"/supplier/applications/{application_id}/sections/{key}"
        response = await post_form(client, path, answers)
        assert response.status_code == 303, (key, response.text[-3000:])


async def submit(client: Any, application_id: int) -> Any:
    return await post_form(client, f"/supplier/applications/{application_id}/submit", {},
                           form_page=f"/supplier/applications/{application_id}/check")


async def evaluate_all(client: Any, application_id: int, outcome: str = "pass") -> None:
    for key in VALID_ANSWERS:
        response = await post_form(client, f"/authority/applications/{application_id}/sections/{key}",
                                   {"outcome": outcome, "comment": "" if outcome == "pass" else f"{key} not met"},
                                   form_page=f"/authority/applications/{application_id}")
        assert response.status_code == 303, (key, response.text[-2000:])
        assert response.headers["location"].endswith(f"#section-{key}")  # back where the evaluator was


async def decide(client: Any, application_id: int, decision: str, reasons: str = "") -> Any:
    return await post_form(client, f"/authority/applications/{application_id}/decision",
                           {"decision": decision, "reasons": reasons},
                           form_page=f"/authority/applications/{application_id}")


async def answer_sections(client: Any, application_id: int, keys: Any) -> None:
    """Answer the named sections (of VALID_ANSWERS) with valid answers."""
    for key in keys:
        response = await post_form(client, f"/supplier/applications/{application_id}/sections/{key}",
                                   VALID_ANSWERS[key])
        assert response.status_code == 303, (key, response.text[-3000:])


async def evaluate_sections(client: Any, application_id: int, keys: Any, outcome: str = "pass") -> None:
    for key in keys:
        response = await post_form(client, f"/authority/applications/{application_id}/sections/{key}",
                                   {"outcome": outcome, "comment": "" if outcome == "pass" else f"{key} not met"},
                                   form_page=f"/authority/applications/{application_id}")
        assert response.status_code == 303, (key, response.text[-2000:])

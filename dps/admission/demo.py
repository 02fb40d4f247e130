"""Demo admission data: suppliers in every state, so each page of the authority and supplier portals has
something to show. Built with the same questionnaire validation the pages use."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.admission.models import Admission, Application, SectionEvaluation
from dps.admission.questionnaire import SECTIONS, sections_asked
from dps.admission.rules import ApplicationState, MembershipState
from dps.agreements.models import Agreement, Category
from dps.audit.services import Actor, record
from dps.calendar import evaluation_due
from dps.identity.models import Organisation, User
from dps.questions import Section, validate_section

DEMO_ANSWERS: dict[str, dict[str, str]] = {
    "mandatory_exclusion": {"grounds_apply": "no"},
    "discretionary_exclusion": {"grounds_apply": "no"},
    "economic_financial": {"latest_turnover": "4,200,000", "accounts_year_end-day": "31",
                           "accounts_year_end-month": "3", "accounts_year_end-year": "2026", "going_concern": "no"},
    "insurance": {"employers_liability": "5,000,000", "public_liability": "10,000,000",
                  "professional_indemnity": "5,000,000", "insurance_expiry-day": "31", "insurance_expiry-month": "8",
                  "insurance_expiry-year": "2027"},
    "carbon_reduction_plan": {"published": "yes", "plan_url": "https://example.org/carbon-reduction-plan",
                              "net_zero_commitment": "yes"},
    "modern_slavery": {"completed": "yes", "completed_on-day": "2", "completed_on-month": "6",
                       "completed_on-year": "2026"},
    "cyber_essentials": {"level": "cyber_essentials_plus", "certificate_number": "IASME-CEP-001234",
                         "expiry-day": "10", "expiry-month": "12", "expiry-year": "2026"},
    "dspt": {"applies": "yes", "year": "2025/26", "status": "standards_met"},
    "dtac": {"applies": "yes", "version": "2024", "c1_clinical_safety": "passed", "c2_data_protection": "passed",
             "c3_technical_security": "passed", "c4_interoperability": "passed", "d_usability_accessibility": "passed"},
    "medical_device": {"device_class": "class_iia", "mark": "ukca", "mhra_reference": "MHRA-DEMO-0001",
                       "certificate_expiry-day": "30", "certificate_expiry-month": "6",
                       "certificate_expiry-year": "2028"},
    "nice_esf": {"tier": "c"},
}

# (supplier Companies House number, category slug, what happened)
DEMO_ADMISSIONS: tuple[tuple[str, str, str], ...] = (
    ("11000001", "imaging", "admitted"),
    ("11000001", "ai-diagnostics", "admitted"),
    ("11000002", "surgical-infection-prevention", "admitted"),
    ("11000003", "surgical-infection-prevention", "admitted"),
    ("11000004", "surgical-infection-prevention", "suspended"),
    ("11000003", "virtual-wards", "submitted"),
    ("11000002", "wearables-home-diagnostics", "under_evaluation"),
    ("11000004", "logistics", "rejected"),
    ("11000001", "virtual-wards", "draft"),
)


def _answers(asked: tuple[Section, ...] = SECTIONS) -> dict[str, dict]:
    answers = {}
    for section in asked:
        result = validate_section(section, DEMO_ANSWERS[section.key])
        answers[section.key] = {"values": result.values, "answers": result.answers, "complete": result.complete}
    return answers


async def seed_demo_admissions(session: AsyncSession, now: datetime) -> int:
    """Idempotent: skips any (supplier, category) that already has an application."""
    actor = Actor.system("demo-seed")
    evaluator = await session.scalar(sa.select(User).where(col(User.email) == "evaluator@dps-authority.example.nhs.uk"))
    supplier_user = await session.scalar(sa.select(User).where(col(User.email) == "supplier.admin@heartflow.example"))
    if evaluator is None or supplier_user is None:
        return 0
    created = 0
    for number, slug, outcome in DEMO_ADMISSIONS:
        organisation = await session.scalar(sa.select(Organisation).where(
            col(Organisation.companies_house_number) == number))
        row = (await session.execute(sa.select(Category,
                                               Agreement).join(Agreement).where(col(Category.slug) == slug))).first()
        if organisation is None or row is None:
            continue
        category, agreement = row
        exists = await session.scalar(sa.select(col(Application.id)).where(
            col(Application.organisation_id) == organisation.id, col(Application.category_id) == category.id))
        if exists is not None:
            continue
        asked = sections_asked(category.selection_sections)
        submitted = now - timedelta(days=20 if outcome in ("admitted", "suspended", "rejected") else 3)
        application = Application(
            organisation_id=organisation.id or 0, category_id=category.id or 0,
            state=ApplicationState.ADMITTED if outcome == "suspended" else outcome, answers=_answers(asked),
            created_by_user_id=supplier_user.id or 0, created_at=submitted, updated_at=submitted,
            submitted_at=None if outcome == "draft" else submitted,
            due_at=None if outcome == "draft" else evaluation_due(submitted, agreement.regime))
        if outcome in ("admitted", "suspended", "rejected"):
            application.decided_at, application.decided_by_user_id = submitted + timedelta(days=6), evaluator.id
            application.evaluator_user_id = evaluator.id
            application.decision_reasons = ("Insurance cover below the category minimum; drone operating safety case "
                                            "not evidenced." if outcome == "rejected" else None)
        session.add(application)
        await session.flush()
        if application.decided_at is not None:
            for section in asked:
                failed = outcome == "rejected" and section.key == "insurance"
                session.add(SectionEvaluation(
                    application_id=application.id or 0, section=section.key, outcome="fail" if failed else "pass",
                    comment="Professional indemnity below £5m" if failed else "", evaluator_user_id=evaluator.id or 0,
                    evaluated_at=application.decided_at))
        if outcome in ("admitted", "suspended") and application.decided_at is not None:
            admission = Admission(
                organisation_id=organisation.id or 0, category_id=category.id or 0, application_id=application.id or 0,
                state=MembershipState.SUSPENDED if outcome == "suspended" else MembershipState.ACTIVE,
                admitted_at=application.decided_at, state_changed_at=application.decided_at,
                state_reason="Declaration refresh not answered within 5 working days" if outcome == "suspended"
                else None)
            session.add(admission)
        await record(session, actor=actor, action=f"demo.application.{outcome}", entity_type="application",
                     entity_id=application.id or 0, now=now, after={"organisation": organisation.name,
                                                                     "category": category.name, "state": outcome})
        created += 1
    await session.flush()
    return created

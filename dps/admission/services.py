"""Admission: applications to categories, their evaluation inside the legal clock, and admitted suppliers.

Each command is one transaction: the state change, its audit event and any emails (outbox) commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dps.admission.events import AdmissionChanged
from dps.admission.models import Admission, Application, SectionEvaluation
from dps.admission.questionnaire import (
    asked_section,
    expired_evidence_in,
    incomplete_sections,
    mandatory_exclusion_applies,
    section,
    sections_asked,
)
from dps.admission.rules import (
    ApplicationEvent,
    ApplicationState,
    ClockStatus,
    MembershipEvent,
    MembershipState,
    can_evaluate,
    check_clock_extension,
    clock_status,
    next_application_state,
    next_membership_state,
)
from dps.agreements.models import Agreement, Category
from dps.assurance import expired_evidence
from dps.audit.services import record
from dps.calendar import WorkingDayCalendar, evaluation_due, london_date
from dps.dates import format_london
from dps.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dps.events import domain_events
from dps.exclusion.events import OrganisationDebarred
from dps.exclusion.services import is_organisation_debarred
from dps.forms import FormErrors
from dps.identity.models import Membership, Organisation, OrganisationKind, Role, User
from dps.identity.services import SignedInUser, active_member_emails, actor_of
from dps.mail import page_link, queue_email, queue_sealed_email
from dps.questions import Section, validate_section

OPEN_STATES = (ApplicationState.DRAFT, ApplicationState.SUBMITTED, ApplicationState.UNDER_EVALUATION)
AWAITING_DECISION = (ApplicationState.SUBMITTED, ApplicationState.UNDER_EVALUATION)


def _snapshot(application: Application) -> dict[str, Any]:
    return {"state": application.state, "due_at": application.due_at, "extended_at": application.extended_at}


# --- loading, with access checks -------------------------------------------------------------------------


async def category_with_agreement(session: AsyncSession, category_id: int) -> tuple[Category, Agreement]:
    row = (await session.execute(
        sa.select(Category, Agreement).join(Agreement, col(Agreement.id) == Category.agreement_id)
        .where(col(Category.id) == category_id)
    )).first()
    if row is None:
        raise NotFound("There is no such category")
    return row[0], row[1]


async def sections_of_application(session: AsyncSession, application: Application) -> tuple[Section, ...]:
    """A2: the questionnaire sections the application's category asks (and only those)."""
    category, _agreement = await category_with_agreement(session, application.category_id)
    return sections_asked(category.selection_sections)


async def application_for_supplier(session: AsyncSession, user: SignedInUser, application_id: int,
                                   *, for_update: bool = False) -> Application:
    """The application if it belongs to one of the user's supplier organisations; NotFound otherwise (no hint)."""
    query = sa.select(Application).where(
        col(Application.id) == application_id,
        col(Application.organisation_id).in_(user.organisation_ids_of_kind(OrganisationKind.SUPPLIER)),
    )
    application = await session.scalar(query.with_for_update() if for_update else query)
    if application is None:
        raise NotFound("There is no such application")
    return application


async def application_for_evaluator(session: AsyncSession, user: SignedInUser, application_id: int,
                                    *, for_update: bool = False) -> Application:
    query = sa.select(Application).where(col(Application.id) == application_id,
                                         col(Application.state) != ApplicationState.DRAFT)
    application = await session.scalar(query.with_for_update() if for_update else query)
    if application is None:
        raise NotFound("There is no such application")
    return application


def require_independent_evaluator(user: SignedInUser, application: Application) -> None:
    if not can_evaluate(set(user.organisation_ids()), application.organisation_id):
        raise Forbidden("You cannot evaluate an application from an organisation you belong to")


# --- supplier side ---------------------------------------------------------------------------------------


async def start_application(session: AsyncSession, user: SignedInUser, *, organisation_id: int, category_id: int,
                            now: datetime) -> Application:
    if organisation_id not in user.organisation_ids_of_kind(OrganisationKind.SUPPLIER):
        raise NotFound("There is no such organisation")
    category, _agreement = await category_with_agreement(session, category_id)
    open_application = await session.scalar(sa.select(col(Application.id)).where(
        col(Application.organisation_id) == organisation_id, col(Application.category_id) == category_id,
        col(Application.state).in_(OPEN_STATES)))
    if open_application is not None:
        raise Conflict(f"You already have an application to {category.name} in progress")
    admitted = await session.scalar(sa.select(col(Admission.state)).where(
        col(Admission.organisation_id) == organisation_id, col(Admission.category_id) == category_id))
    if admitted in (MembershipState.ACTIVE, MembershipState.SUSPENDED):
        raise Conflict(f"Your organisation is already admitted to {category.name}")
    application = Application(organisation_id=organisation_id, category_id=category_id, state=ApplicationState.DRAFT,
                              answers={}, created_by_user_id=user.id, created_at=now, updated_at=now)
    session.add(application)
    await session.flush()
    await record(session, actor=actor_of(user), action="application.started", entity_type="application",
                 entity_id=application.id or 0, now=now, after={"category_id": category_id,
                                                                  "organisation_id": organisation_id})
    await session.commit()
    return application


@dataclass(frozen=True)
class SavedSection:
    complete: bool
    errors: FormErrors
    values: dict[str, str]


async def save_section(session: AsyncSession, user: SignedInUser, application_id: int, section_key: str,
                       form: dict[str, str], now: datetime) -> SavedSection:
    """Save what was typed whatever its state (nothing is lost); report the errors that stop it being complete.

    Evidence that has already expired (by `now`'s London date) is refused when it is entered: a Cyber Essentials
    or medical device certificate past its expiry, or a DSPT year already stale, leaves the section incomplete with
    a message naming the question, because a supplier cannot be admitted on expired evidence."""
    application = await application_for_supplier(session, user, application_id, for_update=True)
    if application.state != ApplicationState.DRAFT:
        raise Conflict("This application has been submitted: its answers can no longer be changed")
    sec = asked_section(await sections_of_application(session, application), section_key)
    result = validate_section(sec, form)
    result.errors.add_all(expired_evidence(sec.key, result.answers, london_date(now)))
    answers = dict(application.answers)
    answers[sec.key] = {"values": result.values, "answers": result.answers, "complete": result.complete}
    application.answers = answers
    application.updated_at = now
    await record(session, actor=actor_of(user), action="application.section_saved", entity_type="application",
                 entity_id=application.id or 0, now=now, after={"section": sec.key, "complete": result.complete})
    await session.commit()
    return SavedSection(result.complete, result.errors, result.values)


async def submit_application(session: AsyncSession, user: SignedInUser, application_id: int,
                             now: datetime) -> Application:
    application = await application_for_supplier(session, user, application_id, for_update=True)
    asked = await sections_of_application(session, application)
    missing = incomplete_sections(application.answers, asked)
    if missing:
        raise ValidationFailed("Complete every section before you submit: " + ", ".join(s.title for s in missing))
    expired = expired_evidence_in(application.answers, asked, london_date(now))
    if expired:  # it was current when entered, and has expired since
        raise ValidationFailed("Update the evidence that has expired before you submit. " + " ".join(
            message.rstrip(".") + "." for message in expired))
    before = _snapshot(application)
    application.state = next_application_state(application.state, ApplicationEvent.SUBMIT)
    category, agreement = await category_with_agreement(session, application.category_id)
    application.submitted_at = now
    application.due_at = evaluation_due(now, agreement.regime)  # A3: the clock starts at receipt
    application.updated_at = now
    await record(session, actor=actor_of(user), action="application.submitted", entity_type="application",
                 entity_id=application.id or 0, now=now, before=before, after=_snapshot(application))
    await _email_supplier(session, application, now, "submitted",
                          f"Application received: {category.name}",
                          f"We received your application to join {category.name} ({agreement.name}) on "
                          f"{format_london(now)}.\n\nWe will decide by {format_london(application.due_at)}.")
    organisation = await session.get(Organisation, application.organisation_id)
    await _email_authority(session, application, now,
                           f"New application: {organisation.name if organisation else 'a supplier'}, {category.name}",
                           f"{organisation.name if organisation else 'A supplier'} applied to join {category.name} "
                           f"({agreement.name}) on {format_london(now)}.\n\nA decision is due by "
                           f"{format_london(application.due_at)}.")
    await session.commit()
    return application


async def withdraw_application(session: AsyncSession, user: SignedInUser, application_id: int,
                               now: datetime) -> Application:
    application = await application_for_supplier(session, user, application_id, for_update=True)
    before = _snapshot(application)
    application.state = next_application_state(application.state, ApplicationEvent.WITHDRAW)
    application.updated_at = now
    await record(session, actor=actor_of(user), action="application.withdrawn", entity_type="application",
                 entity_id=application.id or 0, now=now, before=before, after=_snapshot(application))
    await session.commit()
    return application


# --- authority side --------------------------------------------------------------------------------------


async def _start_evaluation_if_needed(session: AsyncSession, user: SignedInUser, application: Application,
                                      now: datetime) -> None:
    if application.state == ApplicationState.SUBMITTED:
        before = _snapshot(application)
        application.state = next_application_state(application.state, ApplicationEvent.START_EVALUATION)
        application.evaluator_user_id = user.id
        await record(session, actor=actor_of(user), action="application.evaluation_started",
                     entity_type="application", entity_id=application.id or 0, now=now, before=before,
                     after=_snapshot(application))


async def evaluate_section(session: AsyncSession, user: SignedInUser, application_id: int, section_key: str, *,
                           outcome: str, comment: str, now: datetime) -> SectionEvaluation:
    application = await application_for_evaluator(session, user, application_id, for_update=True)
    require_independent_evaluator(user, application)
    if application.state not in AWAITING_DECISION:
        raise Conflict("This application has been decided: its evaluation can no longer change")
    sec = asked_section(await sections_of_application(session, application), section_key)
    if outcome not in ("pass", "fail"):
        raise ValidationFailed("Select pass or fail", field=f"outcome-{sec.key}")
    if outcome == "fail" and not comment.strip():
        raise ValidationFailed("Give a reason when a section fails", field=f"comment-{sec.key}")
    await _start_evaluation_if_needed(session, user, application, now)
    evaluation = await session.scalar(sa.select(SectionEvaluation).where(
        col(SectionEvaluation.application_id) == application.id, col(SectionEvaluation.section) == sec.key))
    before = None if evaluation is None else {"outcome": evaluation.outcome, "comment": evaluation.comment}
    if evaluation is None:
        evaluation = SectionEvaluation(application_id=application.id or 0, section=sec.key, outcome=outcome,
                                       comment=comment.strip(), evaluator_user_id=user.id, evaluated_at=now)
        session.add(evaluation)
    else:
        evaluation.outcome, evaluation.comment = outcome, comment.strip()
        evaluation.evaluator_user_id, evaluation.evaluated_at = user.id, now
    await session.flush()
    await record(session, actor=actor_of(user), action="application.section_evaluated", entity_type="application",
                 entity_id=application.id or 0, now=now, before=before,
                 after={"section": sec.key, "outcome": outcome, "comment": comment.strip()})
    await session.commit()
    return evaluation


async def section_evaluations(session: AsyncSession, application_id: int) -> dict[str, SectionEvaluation]:
    rows = (await session.scalars(sa.select(SectionEvaluation).where(
        col(SectionEvaluation.application_id) == application_id))).all()
    return {row.section: row for row in rows}


async def decide_application(session: AsyncSession, user: SignedInUser, application_id: int, *, decision: str,
                             reasons: str, now: datetime) -> Application:
    """Admit or reject. The applicant is told at once, with the reasons for a rejection (A5)."""
    application = await application_for_evaluator(session, user, application_id, for_update=True)
    require_independent_evaluator(user, application)
    category, agreement = await category_with_agreement(session, application.category_id)
    evaluations = await section_evaluations(session, application.id or 0)
    reasons = reasons.strip()
    if decision == "admit":
        if mandatory_exclusion_applies(application.answers):
            raise Conflict("Mandatory exclusion grounds apply: this application must be rejected")
        if await is_organisation_debarred(session, application.organisation_id, london_date(now)):
            raise Conflict("This supplier is on the debarment list, so it cannot be admitted: reject the application "
                           "and give that as the reason")
        asked = sections_asked(category.selection_sections)  # A2: every section the category asks, and only those
        expired = expired_evidence_in(application.answers, asked, london_date(now))
        if expired:
            raise Conflict("A supplier cannot be admitted on expired evidence: reject the application and give this "
                           "as the reason, so it can apply again with current evidence. " + " ".join(
                               message.split(":")[0] + "." for message in expired))
        unevaluated = [s.title for s in asked if s.key not in evaluations]
        failed = [s.title for s in asked if s.key in evaluations and evaluations[s.key].outcome == "fail"]
        if unevaluated:
            raise Conflict("Evaluate every section before admitting: " + ", ".join(unevaluated))
        if failed:
            raise Conflict("A supplier with a failed section cannot be admitted: " + ", ".join(failed))
        event = ApplicationEvent.ADMIT
    elif decision == "reject":
        if not reasons:
            raise ValidationFailed("Give the reasons for rejecting the application", field="reasons")
        event = ApplicationEvent.REJECT
    else:
        raise ValidationFailed("Select admit or reject", field="decision")
    await _start_evaluation_if_needed(session, user, application, now)
    before = _snapshot(application)
    application.state = next_application_state(application.state, event)
    application.decided_at, application.decided_by_user_id = now, user.id
    application.decision_reasons = reasons or None
    application.updated_at = now
    await record(session, actor=actor_of(user), action=f"application.{application.state}", entity_type="application",
                 entity_id=application.id or 0, now=now, before=before,
                 after={**_snapshot(application), "reasons": reasons})
    if event is ApplicationEvent.ADMIT:
        await _admit(session, user, application, now)
        body = f"Your organisation has been admitted to {category.name} ({agreement.name}).\n\n" \
               "You can now list innovations in this category and you will be invited to its mini-competitions."
        if reasons:
            body += f"\n\nComments from the evaluator:\n{reasons}"
        await _email_supplier(session, application, now, "admitted", f"Admitted: {category.name}", body)
    else:
        failed_sections = "\n".join(f"- {section(k).title}: {e.comment}" for k, e in evaluations.items()
                                    if e.outcome == "fail")
        body = (f"Your application to join {category.name} ({agreement.name}) has not been successful.\n\n"
                f"Reasons:\n{reasons}\n" + (f"\nSections that did not pass:\n{failed_sections}\n" if failed_sections
                                             else "")
                + "\nYou can apply again at any time.")
        await _email_supplier(session, application, now, "rejected", f"Application outcome: {category.name}", body)
    await session.commit()
    return application


async def _admit(session: AsyncSession, user: SignedInUser, application: Application, now: datetime) -> Admission:
    admission = await session.scalar(sa.select(Admission).where(
        col(Admission.organisation_id) == application.organisation_id,
        col(Admission.category_id) == application.category_id))
    before = None if admission is None else {"state": admission.state}
    if admission is None:
        admission = Admission(organisation_id=application.organisation_id, category_id=application.category_id,
                              application_id=application.id or 0, state=MembershipState.ACTIVE, admitted_at=now,
                              state_changed_at=now)
        session.add(admission)
    elif admission.state == MembershipState.REMOVED:
        # A removed supplier that applies again and passes starts a new membership.
        admission.application_id, admission.state = application.id or 0, MembershipState.ACTIVE
        admission.admitted_at = admission.state_changed_at = now
        admission.state_reason = None
    else:
        raise Conflict("This supplier is already admitted to the category")
    await session.flush()
    if before is not None:  # a removed supplier re-admitted: its listings may return to search
        await domain_events.publish(session, AdmissionChanged(admission, actor_of(user), now))
    await record(session, actor=actor_of(user), action="admission.admitted", entity_type="admission",
                 entity_id=admission.id or 0, now=now, before=before,
                 after={"state": admission.state, "organisation_id": admission.organisation_id,
                        "category_id": admission.category_id, "application_id": admission.application_id})
    return admission


async def extend_clock(session: AsyncSession, user: SignedInUser, application_id: int, *, reason: str,
                       now: datetime) -> Application:
    """A4: extend the evaluation to 15 working days in a justified case, recording who and why."""
    application = await application_for_evaluator(session, user, application_id, for_update=True)
    require_independent_evaluator(user, application)
    if application.state not in AWAITING_DECISION:
        raise Conflict("Only an application awaiting a decision can have its clock extended")
    check_clock_extension(due_at=application.due_at or now, now=now,
                          already_extended=application.extended_at is not None)  # A4
    if not reason.strip():
        raise ValidationFailed("Give the reason this case justifies an extension", field="reason")
    category, agreement = await category_with_agreement(session, application.category_id)
    before = _snapshot(application)
    application.due_at = evaluation_due(application.submitted_at or now, agreement.regime, extended=True)
    application.extended_at, application.extended_by_user_id = now, user.id
    application.extension_reason = reason.strip()
    await record(session, actor=actor_of(user), action="application.clock_extended", entity_type="application",
                 entity_id=application.id or 0, now=now, before=before,
                 after={**_snapshot(application), "reason": reason.strip()})
    await _email_supplier(session, application, now, "extended", f"Evaluation extended: {category.name}",
                          f"The evaluation of your application to {category.name} has been extended to 15 working "
                          f"days. We will decide by {format_london(application.due_at)}.\n\nReason: {reason.strip()}")
    await session.commit()
    return application


async def change_admission(session: AsyncSession, user: SignedInUser, admission_id: int, *, event: MembershipEvent,
                           reason: str, now: datetime) -> Admission:
    """Suspend, reinstate or remove an admitted supplier, with a reason; its listings leave (or return to) search."""
    admission = await session.scalar(sa.select(Admission).where(col(Admission.id) == admission_id).with_for_update())
    if admission is None:
        raise NotFound("There is no such admitted supplier")
    if not reason.strip():
        raise ValidationFailed("Give the reason for this change", field="reason")
    before = {"state": admission.state, "reason": admission.state_reason}
    admission.state = next_membership_state(admission.state, event)
    admission.state_changed_at, admission.state_reason = now, reason.strip()
    await record(session, actor=actor_of(user), action=f"admission.{event}", entity_type="admission",
                 entity_id=admission.id or 0, now=now, before=before,
                 after={"state": admission.state, "reason": reason.strip()})
    await domain_events.publish(session, AdmissionChanged(admission, actor_of(user), now))
    category, _ = await category_with_agreement(session, admission.category_id)
    words = {MembershipEvent.SUSPEND: "suspended from", MembershipEvent.REINSTATE: "reinstated to",
             MembershipEvent.REMOVE: "removed from"}[event]
    await email_organisation(session, admission.organisation_id, now,
                             f"admission:{admission.id}:{event}:{now.isoformat()}",
                              f"Your organisation has been {words} {category.name}",
                              f"Your organisation has been {words} {category.name}.\n\nReason: {reason.strip()}"
                              f"\n\nSee your categories:\n{page_link('/supplier')}\n")
    await session.commit()
    return admission




async def remove_debarred_supplier(session: AsyncSession, event: OrganisationDebarred) -> None:
    """A8: a supplier put on the debarment list is removed from every category at once (its listings leave
    search through `AdmissionChanged`). Reacts to `OrganisationDebarred`; does not commit."""
    admissions = (await session.scalars(sa.select(Admission).where(
        col(Admission.organisation_id) == event.organisation_id, col(Admission.state) != MembershipState.REMOVED)
        .order_by(col(Admission.id)).with_for_update())).all()
    reason = "On the debarment list"
    for admission in admissions:
        before = {"state": admission.state, "reason": admission.state_reason}
        admission.state = next_membership_state(admission.state, MembershipEvent.REMOVE)
        admission.state_changed_at, admission.state_reason = event.now, reason
        await record(session, actor=event.actor, action="admission.remove", entity_type="admission",
                     entity_id=admission.id or 0, now=event.now, before=before,
                     after={"state": admission.state, "reason": reason, "debarment_entry_id": event.entry_id})
        await domain_events.publish(session, AdmissionChanged(admission, event.actor, event.now))
    if admissions:
        await email_organisation(
            session, event.organisation_id, event.now, f"debarment:{event.entry_id}:removed",
            "Your organisation has been removed from the DPS",
            "Your organisation has been put on the debarment list, so it has been removed from every category of the "
            "DPS. It can no longer bid in, or be awarded, any competition, including those already running.\n\n"
            "If you believe this is wrong, contact the DPS authority.\n\nSee your categories:\n"
            f"{page_link('/supplier')}\n")


# --- reading ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    application: Application
    organisation_name: str
    category_name: str
    regime: str
    clock: ClockStatus


async def evaluation_queue(session: AsyncSession, now: datetime) -> list[QueueItem]:
    rows = (await session.execute(
        sa.select(Application, col(Organisation.name), col(Category.name), col(Agreement.regime))
        .join(Organisation, col(Organisation.id) == Application.organisation_id)
        .join(Category, col(Category.id) == Application.category_id)
        .join(Agreement, col(Agreement.id) == Category.agreement_id)
        .where(col(Application.state).in_(AWAITING_DECISION))
        .order_by(col(Application.due_at), col(Application.id))
    )).all()
    return [QueueItem(app, org, cat, regime,
                      clock_status(app.due_at or now, now, WorkingDayCalendar.for_regime(regime)))
            for app, org, cat, regime in rows]


async def _email_supplier(session: AsyncSession, application: Application, now: datetime, what: str, subject: str,
                          body: str) -> None:
    """Email the supplier's members about their application, with a link to it."""
    body += f"\n\nSee your application:\n{page_link(f'/supplier/applications/{application.id}')}\n"
    await email_organisation(session, application.organisation_id, now, f"application:{application.id}:{what}",
                              subject, body)


async def _email_authority(session: AsyncSession, application: Application, now: datetime, subject: str,
                           body: str) -> None:
    """Email the authority's evaluators and administrators that an application arrived, with a link to it."""
    emails = (await session.scalars(
        sa.select(col(User.email)).join(Membership, col(Membership.user_id) == User.id)
        .join(Organisation, col(Organisation.id) == Membership.organisation_id)
        .where(col(Organisation.kind) == OrganisationKind.AUTHORITY,
               col(Membership.role).in_([Role.AUTHORITY_ADMIN, Role.EVALUATOR]), col(User.is_active).is_(True))
        .distinct().order_by(col(User.email)))).all()
    body += f"\n\nEvaluate it:\n{page_link(f'/authority/applications/{application.id}')}\n"
    for email in emails:
        await queue_email(session, to=email, subject=subject, body=body,
                          dedupe_key=f"application:{application.id}:submitted:authority:{email}", now=now)


async def email_organisation(session: AsyncSession, organisation_id: int, now: datetime, key: str, subject: str,
                             body: str, *, sealed: bool = False, recipients: Sequence[str] | None = None) -> None:
    """Email every active member of the organisation (`recipients`: their addresses, when the caller has read them
    already); `sealed` for a message that must not say, in the outbox, whom it is for or what it is about (a sealed
    bid's receipt: dps.mail.queue_sealed_email)."""
    emails = await active_member_emails(session, organisation_id) if recipients is None else recipients
    if sealed:
        await queue_sealed_email(session, recipients=emails, subject=subject, body=body, dedupe_key=key, now=now)
        return
    for email in emails:
        await queue_email(session, to=email, subject=subject, body=body, dedupe_key=f"{key}:{email}", now=now)


@dataclass(frozen=True)
class ApplicationSummary:
    application: Application
    category_name: str
    agreement_name: str
    organisation_name: str
    decided_by_name: str = ""  # who recorded the decision, once decided


@dataclass(frozen=True)
class AdmissionSummary:
    admission: Admission
    category_name: str
    agreement_name: str
    organisation_name: str


def _summary_query(model: Any) -> Any:
    return (sa.select(model, col(Category.name), col(Agreement.name), col(Organisation.name))
            .join(Category, col(Category.id) == model.category_id)
            .join(Agreement, col(Agreement.id) == Category.agreement_id)
            .join(Organisation, col(Organisation.id) == model.organisation_id))


async def applications_of(session: AsyncSession,
                          organisation_ids: frozenset[int] | set[int]) -> list[ApplicationSummary]:
    rows = (await session.execute(_summary_query(Application)
        .where(col(Application.organisation_id).in_(organisation_ids))
                                  .order_by(col(Application.created_at).desc(), col(Application.id).desc()))).all()
    return [ApplicationSummary(*row) for row in rows]


async def admissions_of(session: AsyncSession, organisation_ids: frozenset[int] | set[int] | None = None,
                        category_id: int | None = None) -> list[AdmissionSummary]:
    query = _summary_query(Admission).order_by(col(Organisation.name), col(Category.name))
    if organisation_ids is not None:
        query = query.where(col(Admission.organisation_id).in_(organisation_ids))
    if category_id is not None:
        query = query.where(col(Admission.category_id) == category_id)
    return [AdmissionSummary(*row) for row in (await session.execute(query)).all()]


async def application_summary(session: AsyncSession, application: Application) -> ApplicationSummary:
    row = (await session.execute(_summary_query(Application).where(col(Application.id) == application.id))).one()
    decider = (await session.get(User, application.decided_by_user_id)
               if application.decided_by_user_id is not None else None)
    stored, category_name, agreement_name, organisation_name = row
    return ApplicationSummary(stored, category_name, agreement_name, organisation_name,
                              decided_by_name=(decider.full_name or decider.email) if decider else "")

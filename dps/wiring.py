"""The composition root: the one module that knows every domain and connects them.

Everything else calls one way (portals -> services -> models and rules; identity <- admission <- competitions ->
contracts -> payments, with funds beside them) and never imports the catalogue or a portal from `dps`. What
crosses those lines is declared here, explicitly, once:
- the table registry that SQLModel's metadata and Alembic read;
- the outbox: which consumer delivers which topic;
- the domain event listeners (a reaction of one domain to another's change, inside the same transaction);
- the HTTP route handlers of every portal and API, and the app's lifespans;
- the health checks and the demo loaders;
- the daily jobs the clock drives (`dps jobs run` and the in-process scheduler);
- the catalogue commands the CLI offers (search reindex).
`dps.app.create_app` and `dps.cli` call it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from authority_portal.audit import authority_audit_router
from authority_portal.dead_letters import authority_dead_letters_router
from authority_portal.debarment import authority_debarment_router
from authority_portal.evaluation import authority_router
from authority_portal.funds import authority_funds_router
from authority_portal.listings import authority_listings_router
from authority_portal.refresh import authority_refresh_router
from buyer_portal.competitions import competitions_router
from buyer_portal.controllers import buyer_router
from buyer_portal.funds import buyer_funds_router
from buyer_portal.payments import buyer_payments_router
from buyer_portal.search import buyer_search_router
from catalogue.api import api_router
from catalogue.demo import seed_demo_catalogue
from catalogue.models import CatalogueChange, Listing, ListingDocument, ListingVersion, SavedSearch
from catalogue.pages import catalogue_router
from catalogue.reindex import ListingReaderFailed, rebuild_search_index, search_index_holds_listings
from catalogue.search import forget_search_index, search_engine_lifespan, search_index_for
from catalogue.search.consumer import search_index_consumer
from catalogue.services import SEARCH_INDEX_TOPIC, index_lag, on_admission_changed, on_supplier_profile_changed
from dps.admission.demo import seed_demo_admissions
from dps.admission.events import AdmissionChanged
from dps.admission.models import Admission, Application, RefreshRequest, RefreshResponse, SectionEvaluation
from dps.admission.refresh import run_daily_jobs as run_admission_jobs
from dps.admission.services import remove_debarred_supplier
from dps.agreements.models import Agreement, Category
from dps.api_keys.models import ApiConsumer, ApiKey
from dps.api_keys.pages import api_consumer_routers
from dps.audit.models import AuditCheckpoint, AuditEvent
from dps.audit.services import take_checkpoint, unsealed_tail
from dps.competitions.demo import seed_demo_competitions
from dps.competitions.models import (
    AwardNotice,
    Bid,
    BidAttachment,
    BidDataKey,
    Clarification,
    Competition,
    CompetitionEvaluator,
    CompetitionInvitation,
    EvaluatorScore,
    ModeratedScore,
    OutcomeLetter,
    ShorterPeriodAgreement,
)
from dps.competitions.services.departures import tell_buyers_of_debarment
from dps.competitions.services.notices import OCDS_PUBLICATION_TOPIC, send_notice_reminders
from dps.contracts.models import Contract, ContractMilestone
from dps.demo import DemoContext, DemoLoader, seed_demo
from dps.events import DomainEvents, domain_events
from dps.exclusion.events import OrganisationDebarred
from dps.exclusion.models import DebarmentEntry
from dps.funds.demo import seed_demo_funds
from dps.funds.models import Allocation, Commitment, CommitmentLine, Fund, LedgerEntry
from dps.identity.events import SupplierProfileChanged
from dps.identity.models import Invitation, Membership, Organisation, PasswordReset, SignInLockout, User
from dps.mail import EMAIL_TOPIC, email_consumer
from dps.outbox.models import OutboxMessage
from dps.outbox.worker import Consumer
from dps.payments.models import MilestonePayment, StripeCustomer, StripeEvent
from dps.payments.routes import webhooks_router
from dps.payments.services import STRIPE_TOPIC, stripe_consumer
from dps.settings import Settings
from dps.transparency.api import transparency_api_router
from dps.transparency.bulk import rebuild_bulk_files
from dps.transparency.pages import register_router
from dps.transparency.publication import ocds_publication_consumer
from dps.web.dev_mail import dev_mail_router
from dps.web.health import AuditTailReport, HealthChecks, IndexLagReport
from supplier_portal.account import account_routers
from supplier_portal.applications import supplier_applications_router
from supplier_portal.competitions import supplier_competitions_router
from supplier_portal.listings import supplier_listings_router
from supplier_portal.payments import supplier_payments_router
from supplier_portal.refresh import supplier_refresh_router

# --- the table registry ---------------------------------------------------------------------------------------

# Importing a table class registers it on SQLModel.metadata; this tuple is what makes the schema whole for
# create_all, Alembic's autogenerate and the drift test.
TABLES: tuple[type[Any], ...] = (
    Organisation, User, Membership, Invitation, SignInLockout, PasswordReset, DebarmentEntry,
    Agreement, Category,
    Application, SectionEvaluation, Admission, RefreshRequest, RefreshResponse,
    AuditEvent, AuditCheckpoint,
    OutboxMessage,
    Fund, Allocation, Commitment, CommitmentLine, LedgerEntry,
    Competition, CompetitionInvitation, CompetitionEvaluator, Clarification, Bid, BidAttachment, BidDataKey,
    EvaluatorScore, ModeratedScore, OutcomeLetter, AwardNotice, ShorterPeriodAgreement, Contract, ContractMilestone,
    MilestonePayment, StripeCustomer, StripeEvent,
    ApiKey, ApiConsumer,
    Listing, ListingVersion, ListingDocument, CatalogueChange, SavedSearch,
)


# --- the outbox: topic -> consumer ---------------------------------------------------------------------------


def outbox_consumers(settings: Settings) -> dict[str, Consumer]:
    return {EMAIL_TOPIC: email_consumer(settings), SEARCH_INDEX_TOPIC: search_index_consumer(settings),
            STRIPE_TOPIC: stripe_consumer(settings), OCDS_PUBLICATION_TOPIC: ocds_publication_consumer(settings)}


# --- the daily jobs ------------------------------------------------------------------------------------------


async def run_daily_jobs(sessions: Any, now: Any, settings: Settings,
                         progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Every domain's housekeeping the clock drives, each idempotent, so running them hourly is harmless:
    declaration-refresh reminders and assurance warnings (admission); reminders of award notices still to publish
    after a contract (competitions); the day's checkpoint of the audit chain, shown on the publication page; the
    OCDS bulk files of the years whose releases changed (`progress(done, total)` per year)."""
    done = dict(await run_admission_jobs(sessions, now))
    async with sessions() as session:
        done["award_notice_reminders"] = await send_notice_reminders(session, now)
    async with sessions() as session:
        done["audit_checkpoints"] = 1 if await take_checkpoint(session, now) else 0
        await session.commit()
    done["ocds_bulk_files_written"] = await rebuild_bulk_files(sessions, settings, now, progress)
    return done


# --- domain event listeners ----------------------------------------------------------------------------------


def subscribe_domain_listeners(events: DomainEvents = domain_events) -> DomainEvents:
    """Who reacts to which domain event (idempotent: subscribing twice does not react twice)."""
    # A suspended or removed supplier's listings leave search; reinstatement or re-admission brings them back.
    events.subscribe(AdmissionChanged, on_admission_changed)
    # A supplier's name and SME status are in each of its listings' search documents and public pages.
    events.subscribe(SupplierProfileChanged, on_supplier_profile_changed)
    # A debarred supplier leaves every category at once (and so search, through AdmissionChanged).
    events.subscribe(OrganisationDebarred, remove_debarred_supplier)
    # The buyers of its live competitions are told (without naming it while bids are sealed).
    events.subscribe(OrganisationDebarred, tell_buyers_of_debarment)
    return events


# --- HTTP: every portal and API, and the lifespans of what they depend on -----------------------------------


def route_handlers() -> list[Any]:
    return [supplier_applications_router, supplier_refresh_router, buyer_router, authority_router,
            buyer_funds_router, authority_funds_router,
            authority_refresh_router, authority_audit_router, authority_dead_letters_router, authority_debarment_router,
            catalogue_router,
            *account_routers,
            supplier_listings_router, authority_listings_router, buyer_search_router, api_router,
            competitions_router, supplier_competitions_router, webhooks_router,
            buyer_payments_router, supplier_payments_router,
            transparency_api_router, register_router, *api_consumer_routers]


def development_route_handlers() -> list[Any]:
    """Tools for developing and demonstrating the service, mounted only in development (the local mailbox)."""
    return [dev_mail_router]


LIFESPANS: tuple[Any, ...] = (search_engine_lifespan,)


# --- health ----------------------------------------------------------------------------------------------------


async def _search_answers(settings: Settings) -> bool:
    return bool(await search_index_for(settings).health())


async def _search_lag(session: Any) -> IndexLagReport:
    lag = await index_lag(session)
    return IndexLagReport(lag.pending, lag.oldest_pending_at)


async def _audit_tail(session: Any) -> AuditTailReport:
    tail = await unsealed_tail(session)
    return AuditTailReport(tail.count, tail.oldest_at)


HEALTH_CHECKS = HealthChecks(search=_search_answers, search_index_lag=_search_lag, audit_tail=_audit_tail)


# --- demo data -------------------------------------------------------------------------------------------------


async def _demo_admissions(context: DemoContext) -> None:
    await seed_demo_admissions(context.session, context.now)


async def _demo_catalogue(context: DemoContext) -> None:
    await seed_demo_catalogue(context.session, now=context.now, actor=context.actor,
                              user_email="supplier.admin@heartflow.example")


async def _demo_funds(context: DemoContext) -> None:
    await seed_demo_funds(context.session, context.now)


async def _demo_competitions(context: DemoContext) -> None:
    await seed_demo_competitions(context.session, context.now, context.passwords, context.password)


# In order: a competition needs admitted suppliers and allocations to fund it.
DEMO_LOADERS: Sequence[DemoLoader] = (_demo_admissions, _demo_catalogue, _demo_funds, _demo_competitions)


async def seed_demo_data(sessions: Any, settings: Settings, *, only_if_empty: bool) -> tuple[tuple[str, str],
                                                                                             ...] | None:
    """Load the demo organisations, accounts and every domain's demo data (see dps.demo.seed_demo)."""
    subscribe_domain_listeners()
    return await seed_demo(sessions, settings, DEMO_LOADERS, only_if_empty=only_if_empty)


# --- catalogue commands the CLI offers -----------------------------------------------------------------------

__all__ = ["HEALTH_CHECKS", "LIFESPANS", "TABLES", "ListingReaderFailed", "forget_search_index", "outbox_consumers",
           "rebuild_search_index", "route_handlers", "run_daily_jobs", "search_index_holds_listings", "seed_demo_data",
           "subscribe_domain_listeners"]

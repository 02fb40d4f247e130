"""Supplier pages for innovation listings: create and edit (draft), publish, withdraw, see each published
version, and attach PDF evidence. Only categories the supplier is actively admitted to are offered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Router, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import File, Redirect, Template

from catalogue import rules, services
from catalogue.rules import CARE_SETTINGS, LABELS, PRICING_MODELS, assurance_expiries, render_description
from dps.forms import FormErrors, whole_number
from dps.identity.models import OrganisationKind
from dps.identity.services import SignedInUser
from dps.web.auth import memberships_in, supplier_only
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.downloads import stored_document
from dps.web.forms import redirect_to

EVIDENCE_BODY_LIMIT = rules.EVIDENCE_MAX_BYTES + 256 * 1024


async def read_listing_form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    data: dict[str, Any] = {key: str(value) for key, value in form.items()
                            if key not in ("_csrf_token", "care_settings") and isinstance(value, str)}
    data["care_settings"] = [str(value) for value in form.getall("care_settings", [])]
    return data


def _organisation_id(request: Request[Any, Any, Any], raw: str | None = None) -> int:
    organisations = memberships_in(request, OrganisationKind.SUPPLIER)
    chosen = whole_number(raw)
    if chosen is not None and any(m.organisation_id == chosen for m in organisations):
        return chosen
    return organisations[0].organisation_id


async def _form_page(request: Request[Any, Any, Any], db_session: Any, *, organisation_id: int, values: dict[str, Any],
                     errors: FormErrors, listing: Any = None, status_code: int = 200, categories: Any = None,
                     prefilled_from: str = "") -> Template:
    return Template("supplier/listings/form.html", status_code=status_code, context={
        "listing": listing, "values": values, "errors": errors, "organisation_id": organisation_id,
        "prefilled_from": prefilled_from,
        "categories": categories if categories is not None else await services.active_categories(db_session,
                                                                                                   organisation_id),
        "care_settings": CARE_SETTINGS, "pricing_models": PRICING_MODELS, "sections": rules.prefixed_sections(),
    })


@get("/", name="supplier.listings")
async def index(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser) -> Template:
    organisation_id = _organisation_id(request)
    return Template("supplier/listings/index.html", context={
        "rows": await services.listings_of(db_session, services.supplier_organisation_ids(user)),
        "categories": await services.active_categories(db_session, organisation_id),
    })


@get("/new", name="supplier.listings.new")
async def new(request: Request[Any, Any, Any], db_session: DbSession,
              category_id: FromQuery[str | None] = None) -> Template:
    """A new listing starts from what the supplier's admission holds: in the category chosen (or its only one), the
    assurance answers of the application that admitted it, which it can change."""
    organisation_id = _organisation_id(request)
    categories = await services.active_categories(db_session, organisation_id)
    chosen = next((c for c in categories if category_id and str(c.id) == category_id), None)
    if chosen is None and len(categories) == 1:
        chosen = categories[0]
    values: dict[str, Any] = {}
    if chosen is not None:
        assurance = await services.admitted_assurance(db_session, organisation_id, chosen.id or 0)
        values = {"category_id": str(chosen.id), **rules.assurance_form_values(assurance)}
    return await _form_page(request, db_session, organisation_id=organisation_id, values=values,
                            errors=FormErrors(), categories=categories,
                            prefilled_from=chosen.name if chosen is not None and len(values) > 1 else "")


@post("/", name="supplier.listings.create")
async def create(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now) -> Any:
    form = await read_listing_form(request)
    organisation_id = _organisation_id(request, form.get("organisation_id"))
    saved = await services.create_listing(db_session, user, organisation_id, form,
                                          now)
    if saved.listing is None:
        return await _form_page(request, db_session, organisation_id=organisation_id, values=saved.form.values,
                                errors=saved.form.errors, status_code=400)
    return redirect_to(request, "supplier.listings.show", listing_id=saved.listing.id)


async def _show_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                     listing_id: int,
                     errors: FormErrors | None = None, document_title: str = "", status_code: int = 200) -> Template:
    listing = await services.listing_for_supplier(db_session, user, listing_id)
    today = now.date()
    return Template("supplier/listings/show.html", status_code=status_code, context={
        "row": await services.listing_row(db_session, listing_id), "listing": listing,
        "description": render_description(listing.description),
        "summary": rules.assurance_summary(listing.assurance, today),
        "expiries": assurance_expiries(listing.assurance, today),
        # Evidence already expired: warned here, and the listing cannot be published until it is updated.
        "expired_evidence": rules.expired_listing_evidence(listing.assurance, today).summary(),
        "versions": await services.versions_of(db_session, listing_id),
        "documents": await services.documents_of(db_session, listing_id),
        "labels": LABELS, "errors": errors or FormErrors(), "document_title": document_title,
        "max_mb": rules.EVIDENCE_MAX_BYTES // (1024 * 1024), "today": today,
    })


@get("/{listing_id:int}", name="supplier.listings.show")
async def show(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
               listing_id: FromPath[int]) -> Template:
    return await _show_page(request, db_session, user, now, listing_id)


@get("/{listing_id:int}/edit", name="supplier.listings.edit")
async def edit(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
               listing_id: FromPath[int]) -> Template:
    listing = await services.listing_for_supplier(db_session, user, listing_id)
    return await _form_page(request, db_session, organisation_id=listing.organisation_id, listing=listing,
                            values=rules.form_values_of(services.content_of(listing)), errors=FormErrors())


@post("/{listing_id:int}", name="supplier.listings.update")
async def update(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                 listing_id: FromPath[int]) -> Any:
    form = await read_listing_form(request)
    saved = await services.update_listing(db_session, user, listing_id, form,
                                          now)
    if saved.listing is None:
        listing = await services.listing_for_supplier(db_session, user, listing_id)
        return await _form_page(request, db_session, organisation_id=listing.organisation_id, listing=listing,
                                values=saved.form.values, errors=saved.form.errors, status_code=400)
    return redirect_to(request, "supplier.listings.show", listing_id=listing_id)


@post("/{listing_id:int}/publish", name="supplier.listings.publish")
async def publish(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                  listing_id: FromPath[int]) -> Redirect:
    await services.publish_listing(db_session, user, listing_id, now)
    return redirect_to(request, "supplier.listings.show", listing_id=listing_id)


@post("/{listing_id:int}/withdraw", name="supplier.listings.withdraw")
async def withdraw(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                   listing_id: FromPath[int]) -> Redirect:
    await services.withdraw_listing(db_session, user, listing_id, now)
    return redirect_to(request, "supplier.listings.show", listing_id=listing_id)


@get("/{listing_id:int}/versions/{version:int}", name="supplier.listings.version")
async def version(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, listing_id: FromPath[int],
                  version: FromPath[int]) -> Template:
    listing = await services.listing_for_supplier(db_session, user, listing_id)
    found = await services.version_of(db_session, listing_id, version)
    return Template("catalogue/version.html", context={
        "listing": listing, "version": found, "description": render_description(found.content.get("description", "")),
        "labels": LABELS, "back": f"/supplier/listings/{listing_id}"})


@post("/{listing_id:int}/documents", name="supplier.listings.documents.add",
      request_max_body_size=EVIDENCE_BODY_LIMIT)
async def add_document(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                       listing_id: FromPath[int]) -> Any:
    form = await request.form()
    upload = form.get("file")
    content = await upload.read() if isinstance(upload, UploadFile) else b""
    filename = upload.filename if isinstance(upload, UploadFile) else ""
    title = str(form.get("title") or "")
    errors = await services.add_evidence(db_session, user, listing_id, title=title, filename=filename,
                                         content=content, var_dir=request.app.state.settings.var_dir,
                                         now=now)
    if errors:
        await db_session.rollback()
        return await _show_page(request, db_session, user, now, listing_id, errors, title, status_code=400)
    return redirect_to(request, "supplier.listings.show", "#evidence", listing_id=listing_id)


@post("/{listing_id:int}/documents/{document_id:int}/remove", name="supplier.listings.documents.remove")
async def remove_document(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                          listing_id: FromPath[int],
                          document_id: FromPath[int]) -> Redirect:
    await services.remove_evidence(db_session, user, listing_id, document_id,
                                   now)
    return redirect_to(request, "supplier.listings.show", "#evidence", listing_id=listing_id)


@get("/{listing_id:int}/documents/{document_id:int}", name="supplier.listings.documents.download")
async def download_document(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser,
                            listing_id: FromPath[int],
                            document_id: FromPath[int]) -> File:
    await services.listing_for_supplier(db_session, user, listing_id)
    document, path = await services.evidence_for_download(db_session, user, listing_id, document_id,
                                                          request.app.state.settings.var_dir)
    return stored_document(document, path)


supplier_listings_router = Router(
    path="/supplier/listings",
    route_handlers=[index, new, create, show, edit, update, publish, withdraw, version, add_document, remove_document,
                    download_document],
    guards=[supplier_only],
)

"""Supplier pages for mini-competitions: the invitations inbox, the requirement with its published clarifications,
asking a question, drafting / submitting / revising / withdrawing the organisation's own sealed bid, and the outcome
letter. Only an invited supplier sees a competition (others get 404)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, Router, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from dps.competitions.forms import parse_bid_form
from dps.competitions.rules import (
    ATTACHMENT_FILE_FIELD,
    ATTACHMENT_NAME_FIELD,
    BID_ATTACHMENT_MAX_BYTES,
    BID_ATTACHMENT_NAME_MAX,
    BID_ATTACHMENTS_MAX,
    questions_of,
)
from dps.competitions.services import bid_attachments, bidding, drafting, loading, views
from dps.documents import size_words
from dps.forms import FormErrors
from dps.identity.services import SignedInUser
from dps.money import pounds_for_form
from dps.web.auth import supplier_only
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.downloads import pdf_bytes
from dps.web.forms import path_for, read_form, redirect_to, run_form_command


@get("/", name="supplier.competitions")
async def inbox(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now) -> Template:
    return Template("supplier/competitions/index.html", context={
        "invitations": await views.supplier_inbox(db_session, user), "now": now})


async def _show_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                     competition_id: int,
                     errors: FormErrors | None = None, values: dict[str, str] | None = None,
                     status_code: int = 200) -> Template:
    view = await views.supplier_view(db_session, user, competition_id, now)
    return Template("supplier/competitions/show.html", status_code=status_code, context={
        "view": view, "competition": view.summary.competition, "errors": errors or FormErrors(),
        "values": values or {}, "now": now, "questions": questions_of(view.criteria)})


@get("/{competition_id:int}", name="supplier.competitions.show")
async def show(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
               competition_id: FromPath[int]) -> Template:
    return await _show_page(request, db_session, user, now, competition_id)


@post("/{competition_id:int}/questions", name="supplier.competitions.ask")
async def ask(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
              competition_id: FromPath[int]) -> Any:
    return await run_form_command(
        request, db_session, lambda form: drafting.ask_question(
            db_session, user, competition_id, form.get("question", ""), now),
        on_error=lambda errors, form: _show_page(request, db_session, user, now, competition_id, errors, form,
                                                 status_code=400),
        redirect=path_for(request, "supplier.competitions.show", competition_id=competition_id) + "#questions",
        default_field="question")


async def _bid_page(request: Request[Any, Any, Any], db_session: Any, user: SignedInUser, now: datetime,
                    competition_id: int,
                    errors: FormErrors | None = None, values: dict[str, str] | None = None,
                    status_code: int = 200, saved: bool = False,
                    warnings: FormErrors | None = None, attachment_name: str = "") -> Template:
    view = await views.supplier_view(db_session, user, competition_id, now)
    questions = questions_of(view.criteria)
    if values is None:
        bid = view.bid
        values = {f"answer-{q.key}": str(bid.answers.get(q.key, "")) for q in questions} if bid else {}
        if bid is not None:
            values["price"] = pounds_for_form(bid.price_pence)
            values["vat"] = pounds_for_form(bid.vat_pence)
    return Template("supplier/competitions/bid.html", status_code=status_code, context={
        "view": view, "competition": view.summary.competition, "questions": questions, "values": values,
        "errors": errors or FormErrors(), "warnings": warnings or FormErrors(), "saved": saved, "now": now,
        "attachment_name": attachment_name, "max_attachment_size": size_words(BID_ATTACHMENT_MAX_BYTES),
        "max_attachments": BID_ATTACHMENTS_MAX, "attachment_name_max": BID_ATTACHMENT_NAME_MAX})


@get("/{competition_id:int}/bid", name="supplier.competitions.bid")
async def bid_form(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                   competition_id: FromPath[int]) -> Template:
    return await _bid_page(request, db_session, user, now, competition_id)


@post("/{competition_id:int}/bid", name="supplier.competitions.bid.save")
async def save_bid(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                   competition_id: FromPath[int]) -> Any:
    form = await read_form(request)
    competition, _ = await loading.competition_for_supplier(db_session, user, competition_id,
                                                            now)
    parsed = parse_bid_form(form, loading.criteria_of(competition))
    submit = form.get("action") == "submit"
    saved = await bidding.save_bid(db_session, user, competition_id, answers=parsed.answers,
                                   price_pence=parsed.price_pence, vat_pence=parsed.vat_pence, submit=submit,
                                   now=now, form_errors=parsed.errors)
    if saved.errors and not submit:  # the draft is saved as typed: what stops it being submitted is a warning
        return await _bid_page(request, db_session, user, now, competition_id, values=form, saved=True,
                               warnings=saved.errors)
    if saved.errors:
        return await _bid_page(request, db_session, user, now, competition_id, saved.errors, form, status_code=400)
    if submit:
        return redirect_to(request, "supplier.competitions.show", competition_id=competition_id)
    return await _bid_page(request, db_session, user, now, competition_id, saved=True)


@post("/{competition_id:int}/bid/withdraw", name="supplier.competitions.bid.withdraw")
async def withdraw(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                   competition_id: FromPath[int]) -> Redirect:
    await bidding.withdraw_bid(db_session, user, competition_id, now)
    return redirect_to(request, "supplier.competitions.show", competition_id=competition_id)


# A document of at most BID_ATTACHMENT_MAX_BYTES, with room for the form around it: a slightly larger file still
# reaches the check, which says how large it may be; a much larger one is refused (413) before it is read.
ATTACHMENT_BODY_LIMIT = BID_ATTACHMENT_MAX_BYTES + 256 * 1024


@post("/{competition_id:int}/bid/documents", name="supplier.competitions.bid.documents.add",
      request_max_body_size=ATTACHMENT_BODY_LIMIT)
async def add_document(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                       competition_id: FromPath[int]) -> Any:
    form = await request.form()
    upload = form.get(ATTACHMENT_FILE_FIELD)
    content = await upload.read() if isinstance(upload, UploadFile) else b""
    filename = upload.filename if isinstance(upload, UploadFile) else ""
    name = str(form.get(ATTACHMENT_NAME_FIELD) or "")
    errors = await bid_attachments.add_attachment(db_session, user, competition_id, name=name, filename=filename,
                                                  content=content, now=now)
    if errors:
        return await _bid_page(request, db_session, user, now, competition_id, errors, status_code=400,
                               attachment_name=name)
    return redirect_to(request, "supplier.competitions.bid", "#documents", competition_id=competition_id)


@post("/{competition_id:int}/bid/documents/{document_id:int}/remove",
      name="supplier.competitions.bid.documents.remove")
async def remove_document(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                          competition_id: FromPath[int], document_id: FromPath[int]) -> Redirect:
    await bid_attachments.remove_attachment(db_session, user, competition_id, document_id, now)
    return redirect_to(request, "supplier.competitions.bid", "#documents", competition_id=competition_id)


@get("/{competition_id:int}/bid/documents/{document_id:int}", name="supplier.competitions.bid.documents.download")
async def download_document(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                            competition_id: FromPath[int], document_id: FromPath[int]) -> Response[bytes]:
    info, content = await bid_attachments.own_attachment(db_session, user, competition_id, document_id, now)
    return pdf_bytes(content, info.filename)


supplier_competitions_router = Router(
    path="/supplier/competitions",
    route_handlers=[inbox, show, ask, bid_form, save_bid, withdraw, add_document, remove_document,
                    download_document],
    guards=[supplier_only],
)

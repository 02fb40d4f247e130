"""Documents attached to a bid: PDFs checked by their content (the one check listing evidence uses), at most 10MB
and 10 a bid, sealed like the rest of the bid (C5): only the bidder can open them before the deadline; from the
evaluation the buyer and the evaluators who read the bids can; another supplier never can."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import assume, given
from hypothesis import strategies as st

from dps.audit.models import AuditEvent
from dps.competitions.models import Bid, BidAttachment
from dps.competitions.rules import BID_ATTACHMENT_MAX_BYTES, BID_ATTACHMENTS_MAX, bid_attachment_problems
from dps.competitions.services import bid_attachments, bidding, evaluating
from dps.crypto import DataKey, SealingError
from dps.documents import MEGABYTE, is_pdf, pdf_problem, size_for_people
from dps.outbox.models import OutboxMessage
from tests.competitions.support import Browser, bid_form
from tests.competitions.test_bids_sealed_at_rest import copy_of_every_table, matches
from tests.factories import make_bid, make_competition_world, make_published_competition, signed_in
from tests.helpers import scalar

DEADLINE = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)  # the support form's tender deadline
SECRET_TEXT = b"Kestrelwick hazard log for the virtual ward"
PDF = b"%PDF-1.7\n% " + SECRET_TEXT + b"\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SECRET_NAME = "Orrinbrook clinical safety case"
SECRET_FILENAME = "Vellamere-safety.pdf"


def pdf_of_size(size: int) -> bytes:
    head, tail = b"%PDF-1.7\n", b"\n%%EOF\n"
    return head + b"0" * (size - len(head) - len(tail)) + tail


# --- the check, a pure function ---------------------------------------------------------------------------------


@given(st.binary(max_size=4096))
def test_nothing_is_a_pdf_without_the_pdf_header_whatever_it_is_called(content):
    assume(not content.startswith(b"%PDF-"))
    assert not is_pdf(content) and not is_pdf(content + b"\n%%EOF\n")
    assert pdf_problem(content, filename="report.pdf", max_bytes=MEGABYTE) in (
        "The selected file is empty", "The selected file must be a PDF")


@given(st.binary(max_size=4096), st.sampled_from([b"", b"\n", b"\r\n", b" \n\n"]))
def test_a_pdf_is_known_by_its_header_and_end_marker_whatever_lies_between(body, tail):
    content = b"%PDF-1." + body + b"%%EOF" + tail
    assert is_pdf(content)
    assert pdf_problem(content, filename="", max_bytes=len(content)) is None
    assert (pdf_problem(content, filename="", max_bytes=len(content) - 1) or "").startswith(
        "The selected file must be smaller than")


def test_the_size_limit_lets_10mb_through_and_not_a_byte_more():
    assert BID_ATTACHMENT_MAX_BYTES == 10 * MEGABYTE
    exactly = pdf_of_size(BID_ATTACHMENT_MAX_BYTES)
    assert bid_attachment_problems("Case", "case.pdf", exactly, attached=0).messages == {}
    over = pdf_of_size(BID_ATTACHMENT_MAX_BYTES + 1)
    assert bid_attachment_problems("Case", "case.pdf", over, attached=0).messages == {
        "attachment-file": "The selected file must be smaller than 10MB"}
    assert [size_for_people(n) for n in (1, 340 * 1024, MEGABYTE, BID_ATTACHMENT_MAX_BYTES)] == [
        "1 KB", "340 KB", "1.0 MB", "10.0 MB"]


def test_each_problem_with_a_document_is_named_in_plain_words():
    def problems(name: str, filename: str, content: bytes, attached: int = 0) -> dict[str, str]:
        return bid_attachment_problems(name, filename, content, attached=attached).messages

    assert problems("Safety case", "case.pdf", PDF) == {}
    assert problems("", "case.pdf", PDF) == {"attachment-name": "Enter a name for the document"}
    assert problems("x" * 151, "case.pdf", PDF) == {
        "attachment-name": "The document's name must be 150 characters or fewer"}
    assert problems("Safety case", "", b"") == {"attachment-file": "Select a PDF file"}
    assert problems("Safety case", "case.pdf", b"") == {"attachment-file": "The selected file is empty"}
    assert problems("Safety case", "case.pdf", b"MZ\x90\x00 a program %%EOF") == {
        "attachment-file": "The selected file must be a PDF"}
    assert problems("Safety case", "case.pdf", PDF, attached=BID_ATTACHMENTS_MAX - 1) == {}
    assert problems("Safety case", "case.pdf", PDF, attached=BID_ATTACHMENTS_MAX) == {
        "attachment-file": "Your bid already has 10 documents, the most it can have: remove one before you add another"}


# --- the bid page ------------------------------------------------------------------------------------------------


async def upload(browser: Browser, email: str, competition_id: int, name: str, content: bytes | None,
                 filename: str = "case.pdf", csrf: bool = True):
    client = await browser.be(email)
    await client.get(f"/supplier/competitions/{competition_id}/bid")
    data = {"attachment-name": name, **({"_csrf_token": client.cookies.get("csrftoken")} if csrf else {})}
    files = {"attachment-file": (filename, content, "application/pdf")} if content is not None else {
        "attachment-file": ("", b"", "application/octet-stream")}
    return await client.post(f"/supplier/competitions/{competition_id}/bid/documents", data=data, files=files)


async def test_the_bid_page_refuses_what_is_not_a_pdf_within_10mb_and_keeps_everything_typed(client, db, passwords,
                                                                                              clock):
    world = await make_competition_world(db, passwords, clock)
    acme = world.bidders[0]
    competition_id = await make_published_competition(db, clock, world=world)
    browser = Browser(client)
    bid_path = f"/supplier/competitions/{competition_id}/bid"
    saved = await browser.post(acme.email, bid_path, bid_form("1,000", action="save", q1="Wards alert within minutes"))
    assert saved.status_code == 200

    refusals = [(b"<html><script>alert(1)</script></html>", "trick.pdf", "The selected file must be a PDF"),
                (b"", "empty.pdf", "The selected file is empty"),
                (None, "", "Select a PDF file"),
                (pdf_of_size(BID_ATTACHMENT_MAX_BYTES + 1), "big.pdf", "The selected file must be smaller than 10MB")]
    for content, filename, message in refusals:
        refused = await upload(browser, acme.email, competition_id, "Safety case", content, filename)
        assert refused.status_code == 400, (filename, refused.text[-1500:])
        assert "There is a problem" in refused.text and message in refused.text and 'href="#attachment-file"' in \
            refused.text
        assert 'value="Safety case"' in refused.text  # the name typed is kept
        assert "Wards alert within minutes" in refused.text  # and so is the saved draft
    unnamed = await upload(browser, acme.email, competition_id, "", PDF)
    assert unnamed.status_code == 400 and "Enter a name for the document" in unnamed.text
    assert await scalar(db, sa.select(sa.func.count()).select_from(BidAttachment)) == 0

    # Far beyond the limit, the body is refused before it is read; without the form's token, nothing happens.
    huge = await upload(browser, acme.email, competition_id, "Huge", b"%PDF-" + b"0" * (12 * MEGABYTE))
    assert huge.status_code == 413 and "The file is too large" in huge.text and "choose a smaller file" in huge.text
    assert (await upload(browser, acme.email, competition_id, "No token", PDF, csrf=False)).status_code == 403

    # A PDF of exactly 10MB is accepted (the route's body limit allows it), and listed with its size.
    accepted = await upload(browser, acme.email, competition_id, "Hazard log summary",
                            pdf_of_size(BID_ATTACHMENT_MAX_BYTES), "../../safety case.PDF")
    assert accepted.status_code == 303 and accepted.headers["location"].endswith(f"{bid_path}#documents")
    page = await browser.get(acme.email, bid_path)
    assert "Hazard log summary</a> (10.0 MB, PDF)" in page.text
    assert "Wards alert within minutes" in page.text
    for number in range(2, BID_ATTACHMENTS_MAX + 1):
        assert (await upload(browser, acme.email, competition_id, f"Annex {number}", PDF)).status_code == 303
    page = await browser.get(acme.email, bid_path)
    assert "Your bid has 10 documents, the most it can have" in page.text and 'id="attachment-file"' not in page.text
    eleventh = await upload(browser, acme.email, competition_id, "One too many", PDF)
    assert eleventh.status_code == 400 and "Your bid already has 10 documents" in eleventh.text

    # The file downloads as it was sent, under a name safe for a header, never to be rendered by the browser.
    bid = await bidding.own_bid(db, competition_id, acme.organisation.id)
    await db.commit()
    assert bid is not None and bid.state == "draft" and len(bid.attachments) == BID_ATTACHMENTS_MAX
    first = bid.attachments[0]
    download = await browser.get(acme.email, f"{bid_path}/documents/{first.id}")
    assert download.status_code == 200 and download.content == pdf_of_size(BID_ATTACHMENT_MAX_BYTES)
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == 'attachment; filename="safety-case.pdf"'
    assert download.headers["x-content-type-options"] == "nosniff"

    # Removed while bids are open, it is gone from the page and from the bid.
    removed = await browser.post(acme.email, f"{bid_path}/documents/{first.id}/remove")
    assert removed.status_code == 303
    page = await browser.get(acme.email, bid_path)
    assert "Hazard log summary" not in page.text and "Annex 2" in page.text
    assert (await browser.get(acme.email, f"{bid_path}/documents/{first.id}")).status_code == 404


# --- sealed like the bid ---------------------------------------------------------------------------------------


async def test_documents_are_sealed_until_the_bids_are_read_and_never_shown_to_another_supplier(
        client, db, passwords, clock, session_engine):
    world = await make_competition_world(db, passwords, clock)
    acme, bright, _ = world.bidders
    evaluator = world.evaluators[0]
    competition_id = await make_published_competition(db, clock, world=world)
    bid_id = await make_bid(db, clock, party=acme, competition_id=competition_id, price_pence=90_000_00)
    await make_bid(db, clock, party=bright, competition_id=competition_id, price_pence=95_000_00)
    browser = Browser(client)
    clock.advance(timedelta(hours=1))
    assert (await upload(browser, acme.email, competition_id, SECRET_NAME, PDF, SECRET_FILENAME)).status_code == 303
    document_id = await scalar(db, sa.select(BidAttachment.id))
    own_path = f"/supplier/competitions/{competition_id}/bid/documents/{document_id}"
    team_path = f"/buyer/competitions/{competition_id}/bids/{bid_id}/documents/{document_id}"

    # Before the deadline: the bidder opens it; another supplier, the buyer and an evaluator get 404.
    assert (await browser.get(acme.email, own_path)).content == PDF
    assert (await browser.get(bright.email, own_path)).status_code == 404
    assert (await browser.post(bright.email, f"{own_path}/remove")).status_code == 404
    assert (await browser.get(world.buyer.email, team_path)).status_code == 404
    assert (await browser.get(evaluator.email, team_path)).status_code == 404
    # No row of the database holds the document, its name or its file name in clear text.
    tables = await copy_of_every_table(session_engine)
    assert tables["bid_attachment"]
    assert matches(tables, [SECRET_TEXT.decode(), SECRET_NAME, SECRET_FILENAME, "Vellamere"]) == []

    # The deadline passes: the bids open, but nobody reads them until the buyer starts the evaluation.
    clock.set(DEADLINE + timedelta(minutes=1))
    assert (await browser.post(acme.email, f"{own_path}/remove")).status_code == 409
    assert (await browser.get(world.buyer.email, team_path)).status_code == 404
    await evaluating.start_evaluation(db, await signed_in(db, world.buyer.user), competition_id, clock.now())
    buyer_copy = await browser.get(world.buyer.email, team_path)
    assert buyer_copy.status_code == 200 and buyer_copy.content == PDF
    assert buyer_copy.headers["content-disposition"] == f'attachment; filename="{SECRET_FILENAME}"'
    moderation = await browser.get(world.buyer.email, f"/buyer/competitions/{competition_id}/moderation")
    assert f'href="{team_path}"' in moderation.text and SECRET_NAME in moderation.text
    # An evaluator reads bids once they have declared no conflict of interest, as they read the answers.
    assert (await browser.get(evaluator.email, team_path)).status_code == 404
    await evaluating.declare_interest(db, await signed_in(db, evaluator), competition_id, conflict=False, note="",
                                      now=clock.now())
    assert (await browser.get(evaluator.email, team_path)).content == PDF
    evaluation = await browser.get(evaluator.email, f"/buyer/competitions/{competition_id}/evaluation")
    assert f'href="{team_path}"' in evaluation.text
    # Another trust's buyer, and a path naming another bid, find nothing; the bidder still has its own copy.
    assert (await browser.get(world.other_buyer.email, team_path)).status_code == 404
    other_bid = await scalar(db, sa.select(Bid.id).where(Bid.id != bid_id))
    wrong_bid = f"/buyer/competitions/{competition_id}/bids/{other_bid}/documents/{document_id}"
    assert (await browser.get(world.buyer.email, wrong_bid)).status_code == 404
    assert (await browser.get(acme.email, own_path)).content == PDF
    assert (await browser.get(bright.email, own_path)).status_code == 404
    own_page = await browser.get(acme.email, f"/supplier/competitions/{competition_id}/bid")
    assert "Bids can no longer be changed" in own_page.text and f'href="{own_path}"' in own_page.text
    assert f"{own_path}/remove" not in own_page.text

    # The opening recorded what was attached, and the sealed steps of adding it.
    row = await scalar(db, sa.select(BidAttachment))
    assert (row.name, row.filename, row.size_bytes) == (SECRET_NAME, SECRET_FILENAME, len(PDF))
    unsealed = await scalar(db, sa.select(AuditEvent).where(AuditEvent.action == "bid.unsealed",
                                                            AuditEvent.entity_id == str(bid_id)))
    assert [a["name"] for a in unsealed.after["attachments"]] == [SECRET_NAME]
    assert [step["action"] for step in unsealed.after["steps"]] == ["submitted", "attachment_added"]


async def test_a_change_of_documents_to_a_submitted_bid_is_a_new_version_of_it(db, passwords, clock):
    world = await make_competition_world(db, passwords, clock)
    acme, bright, _ = world.bidders
    competition_id = await make_published_competition(db, clock, world=world)
    await make_bid(db, clock, party=acme, competition_id=competition_id, price_pence=90_000_00)
    user = await signed_in(db, acme.user)

    assert not await bid_attachments.add_attachment(db, user, competition_id, name="Safety case",
                                                    filename="case.pdf", content=PDF, now=clock.now())
    bid = await bidding.own_bid(db, competition_id, acme.organisation.id)
    await db.commit()
    assert bid is not None and (bid.state, bid.revision) == ("submitted", 2)
    assert [a.name for a in bid.attachments] == ["Safety case"]
    receipts = await scalar(db, sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.dedupe_key.like("email:sealed:%")))
    assert receipts == 2  # one for each version

    await bid_attachments.remove_attachment(db, user, competition_id, bid.attachments[0].id, clock.now())
    bid = await bidding.own_bid(db, competition_id, acme.organisation.id)
    await db.commit()
    assert bid is not None and (bid.state, bid.revision, bid.attachments) == ("submitted", 3, ())
    assert await scalar(db, sa.select(sa.func.count()).select_from(BidAttachment)) == 0

    # A withdrawn bid given a document becomes a draft again, as a saved draft does; it is not submitted.
    await bidding.withdraw_bid(db, user, competition_id, clock.now())
    assert not await bid_attachments.add_attachment(db, user, competition_id, name="Annex", filename="annex.pdf",
                                                    content=PDF, now=clock.now())
    bid = await bidding.own_bid(db, competition_id, acme.organisation.id)
    await db.commit()
    assert bid is not None and (bid.state, bid.revision) == ("draft", 3)

    # A supplier that has not bid gets its first bid as a draft holding the document.
    bright_user = await signed_in(db, bright.user)
    assert not await bid_attachments.add_attachment(db, bright_user, competition_id, name="Brochure",
                                                    filename="b.pdf", content=PDF, now=clock.now())
    bright_bid = await bidding.own_bid(db, competition_id, bright.organisation.id)
    await db.commit()
    assert bright_bid is not None and bright_bid.state == "draft" and [a.name for a in bright_bid.attachments] == [
        "Brochure"]


def test_a_sealed_document_opens_only_in_its_place_and_under_its_key():
    key, other = DataKey.generate(), DataKey.generate()
    sealed = key.seal_bytes(PDF, context="bid-attachment:7:12:3")
    assert SECRET_TEXT not in sealed and sealed.startswith(b"v1.")
    assert key.open_bytes(sealed, context="bid-attachment:7:12:3") == PDF
    for opener, context in ((key, "bid-attachment:7:13:3"), (key, "bid:7:12"), (other, "bid-attachment:7:12:3")):
        with pytest.raises(SealingError):
            opener.open_bytes(sealed, context=context)
    with pytest.raises(SealingError):
        key.open_bytes(sealed[:-1] + bytes([sealed[-1] ^ 1]), context="bid-attachment:7:12:3")

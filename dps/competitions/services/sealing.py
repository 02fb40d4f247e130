"""Sealed bids (C5): what is sealed until the deadline, under which keys, and the one step that opens the bids.

Until the deadline no row that a buyer, an authority admin or a database backup can read links a supplier to a bid:
- A bid row says only that a bid exists, its state, revision and times. Who bid (the organisation, the users who
  drafted and submitted it), its answers, price and VAT, and the steps of its audit trail are one sealed BidContent:
  AES-GCM under the competition's data key, bound to the competition and the bid (dps.crypto).
- The data key is random, one per competition, and stored only wrapped by the sealing key (setting BID_SEALING_KEY),
  which is not in the database. A supplier finds its own bid by `bidder_key`, an HMAC of its organisation id under
  the data key: one bid per supplier, and nothing a reader without the key can confirm by guessing.
- Each step is audited as an opaque "sealed_bid" event: a digest under a random token of its own, with no bidder,
  bid, competition or content, and nothing that links two steps. The steps themselves travel in the sealed content.
- Emails to the bidder are sealed in the outbox, with an opaque dedupe key (dps.mail.queue_email(sealed=True)).

Opening is automatic, at the close: `open_bids` runs inside the transaction in which the competition closes at its
deadline (loading.close_if_due, which every load past the deadline and the periodic close_due_competitions call).
The deadline is the rule, so no buyer step can open bids early or hold them sealed after it. Opening decrypts every
bid once, stores the plain columns for evaluation and deletes the ciphertext, writes each bid's steps to the audit
trail under the bid ("bid.unsealed", with the digests of the sealed events they match) and records the step itself
("competition.bids_opened"); the data key row records when, so a second call does nothing.

Documents attached to a bid are sealed the same way: their files under the data key, bound to the attachment
(BidAttachment), what they are called and their size in the sealed content. The opening writes those into the plain
columns, but leaves the files sealed: decrypting every document (up to 100 MB a bid) inside the closing transaction
would hold the competition's lock for as long, and a document is only ever read whole, by one download, which opens
it then (services/bid_attachments.py) and is allowed to the buyer and evaluators only once the bids are opened.

Why plaintext after opening rather than decrypting on every read: from the deadline the contents are no longer
secret from the buyer; every later stage (evaluation, moderation, ranking, award, outcome letters, contracts, award
notices, exports) reads bids through SQL, joined to the bidder's organisation; decrypting on read would carry the
sealing key into all of them for no gain in secrecy, and would make "when did the bids become readable" a property of
each page instead of one audited instant.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.audit.services import Actor, record
from dps.competitions.models import Bid, BidAttachment, BidDataKey, Competition
from dps.competitions.rules import BidState
from dps.crypto import DataKey, SealingError, sealing_key
from dps.documents import size_for_people
from dps.identity.services import SignedInUser

SEALED = Actor.system("sealed-bid")
BIDS_OPENED = "competition.bids_opened"


@dataclass(frozen=True)
class BidContent:
    """What a bid row keeps sealed until the bids are opened."""

    organisation_id: int
    created_by_user_id: int
    submitted_by_user_id: int | None = None
    answers: dict[str, str] = field(default_factory=dict)
    price_pence: int | None = None
    vat_pence: int | None = None
    steps: tuple[dict[str, Any], ...] = ()
    # The documents attached (BidAttachment rows, whose files are sealed apart): AttachmentInfo.to_json() each.
    attachments: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"organisation_id": self.organisation_id, "created_by_user_id": self.created_by_user_id,
                "submitted_by_user_id": self.submitted_by_user_id, "answers": dict(self.answers),
                "price_pence": self.price_pence, "vat_pence": self.vat_pence, "steps": list(self.steps),
                "attachments": list(self.attachments)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BidContent:
        return cls(organisation_id=data["organisation_id"], created_by_user_id=data["created_by_user_id"],
                   submitted_by_user_id=data.get("submitted_by_user_id"), answers=dict(data.get("answers") or {}),
                   price_pence=data.get("price_pence"), vat_pence=data.get("vat_pence"),
                   steps=tuple(data.get("steps") or ()), attachments=tuple(data.get("attachments") or ()))


@dataclass(frozen=True)
class AttachmentInfo:
    """A document attached to a bid, as the pages list it (the file itself is sealed in its BidAttachment row)."""

    id: int
    name: str
    filename: str
    size_bytes: int
    sha256: str

    @property
    def size(self) -> str:
        return size_for_people(self.size_bytes)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "filename": self.filename, "size_bytes": self.size_bytes,
                "sha256": self.sha256}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttachmentInfo:
        return cls(id=data["id"], name=data["name"], filename=data["filename"], size_bytes=data["size_bytes"],
                   sha256=data["sha256"])


def _key_context(competition_id: int) -> str:
    return f"competition:{competition_id}:bid-data-key"


def _content_context(bid: Bid) -> str:
    return f"bid:{bid.competition_id}:{bid.id}"


def attachment_context(bid: Bid, attachment_id: int) -> str:
    return f"bid-attachment:{bid.competition_id}:{bid.id}:{attachment_id}"


# --- keys ------------------------------------------------------------------------------------------------------


def _unwrap(row: BidDataKey) -> DataKey:
    key = sealing_key()
    if row.sealing_key_id != key.key_id:
        raise SealingError(f"the bids of competition {row.competition_id} are sealed under sealing key "
                           f"{row.sealing_key_id}, but BID_SEALING_KEY is key {key.key_id}")
    return key.unwrap(row.wrapped_key, context=_key_context(row.competition_id))


async def _key_row(session: AsyncSession, competition_id: int, *, create: bool) -> BidDataKey | None:
    row = await session.get(BidDataKey, competition_id)
    if row is None and create:
        key = sealing_key()
        row = BidDataKey(competition_id=competition_id, sealing_key_id=key.key_id,
                         wrapped_key=key.wrap(DataKey.generate(), context=_key_context(competition_id)))
        session.add(row)
        await session.flush()
    return row


async def data_key(session: AsyncSession, competition_id: int, *, create: bool = False) -> DataKey | None:
    """The competition's data key; made with its first bid (`create`, under the caller's lock of the competition).
    None if the competition has none yet, i.e. nobody has bid."""
    row = await _key_row(session, competition_id, create=create)
    return None if row is None else _unwrap(row)


def bidder_key(key: DataKey, organisation_id: int) -> str:
    return key.lookup_hash(f"organisation:{organisation_id}")


# --- a bidder's own bid ------------------------------------------------------------------------------------------


def read_content(bid: Bid, key: DataKey) -> BidContent:
    """The bid's content: unsealed for its bidder before the opening, from the plain columns after it."""
    if bid.sealed_content is None:
        return BidContent(organisation_id=bid.organisation_id or 0, created_by_user_id=bid.created_by_user_id or 0,
                          submitted_by_user_id=bid.submitted_by_user_id, answers=dict(bid.answers),
                          price_pence=bid.price_pence, vat_pence=bid.vat_pence)
    return BidContent.from_json(key.open(bid.sealed_content, context=_content_context(bid)))


def seal_content(bid: Bid, key: DataKey, content: BidContent) -> None:
    assert bid.id is not None, "a bid is sealed to its id: flush it first"
    bid.sealed_content = key.seal(content.to_json(), context=_content_context(bid))


async def bid_of_bidder(session: AsyncSession, competition_id: int, organisation_id: int,
                        key: DataKey | None = None) -> tuple[Bid, BidContent, DataKey] | None:
    """The organisation's own bid in the competition, with its content and the data key; None if it has none."""
    key = key or await data_key(session, competition_id)
    if key is None:
        return None
    bid = await session.scalar(sa.select(Bid).where(Bid.competition_id == competition_id,
                                                    Bid.bidder_key == bidder_key(key, organisation_id)))
    return None if bid is None else (bid, read_content(bid, key), key)


async def attachments_of(session: AsyncSession, bid: Bid, content: BidContent) -> tuple[AttachmentInfo, ...]:
    """The documents attached to a bid: from its sealed content before the opening, from the plain columns after."""
    if bid.sealed_content is not None:
        return tuple(AttachmentInfo.from_json(entry) for entry in content.attachments)
    return (await opened_attachments(session, [bid.id or 0])).get(bid.id or 0, ())


async def opened_attachments(session: AsyncSession, bid_ids: Iterable[int]) -> dict[int, tuple[AttachmentInfo, ...]]:
    """The documents of opened bids, by bid id (never their files)."""
    rows = (await session.execute(sa.select(BidAttachment.bid_id, BidAttachment.id, BidAttachment.name,
                                            BidAttachment.filename, BidAttachment.size_bytes, BidAttachment.sha256)
                                  .where(BidAttachment.bid_id.in_(list(bid_ids)), BidAttachment.name.is_not(None))
                                  .order_by(BidAttachment.id))).all()
    found: dict[int, tuple[AttachmentInfo, ...]] = {}
    for bid_id, attachment_id, name, filename, size_bytes, sha256 in rows:
        found[bid_id] = (*found.get(bid_id, ()), AttachmentInfo(attachment_id, name, filename, size_bytes, sha256))
    return found


async def bid_states_of(session: AsyncSession, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """The state of each (competition id, organisation id)'s own bid, for that bidder's inbox."""
    wanted: dict[tuple[int, str], tuple[int, int]] = {}
    by_competition: dict[int, list[int]] = {}
    for competition_id, organisation_id in pairs:
        by_competition.setdefault(competition_id, []).append(organisation_id)
    if not by_competition:
        return {}
    for row in (await session.scalars(sa.select(BidDataKey).where(
            BidDataKey.competition_id.in_(list(by_competition))))).all():
        key = _unwrap(row)
        for organisation_id in by_competition[row.competition_id]:
            wanted[(row.competition_id, bidder_key(key, organisation_id))] = (row.competition_id, organisation_id)
    if not wanted:
        return {}
    found = (await session.execute(sa.select(Bid.competition_id, Bid.bidder_key, Bid.state).where(
        Bid.competition_id.in_({c for c, _ in wanted}), Bid.bidder_key.in_({k for _, k in wanted})))).all()
    return {wanted[(c, k)]: state for c, k, state in found if (c, k) in wanted}


# --- the audit trail of sealed bids ------------------------------------------------------------------------------


def _digest(step: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(step, sort_keys=True, default=str).encode()).hexdigest()


async def audit_sealed_step(session: AsyncSession, bid: Bid, content: BidContent, action: str, user: SignedInUser,
                            now: datetime, detail: dict[str, Any] | None = None) -> BidContent:
    """C5: the step joins the bid's sealed content and the audit chain gets only its digest, under a random token of
    its own: no bidder, bid, competition or content, and nothing that links two steps of one bid, can be read from
    the audit log before the deadline. The salt stops anyone confirming a guessed step against the digest. `detail`
    says more about the step (the document attached or removed)."""
    step = {"token": secrets.token_hex(16), "action": action, "actor_user_id": user.id, "actor_label": user.email,
            "state": bid.state, "revision": bid.revision, "at": now.isoformat(), "salt": secrets.token_hex(16),
            **(detail or {})}
    await record(session, actor=SEALED, action="bid.sealed_step", entity_type="sealed_bid",
                 entity_id=step["token"], now=now, after={"digest": _digest(step)})
    return replace(content, steps=(*content.steps, step))


# --- opening -------------------------------------------------------------------------------------------------------


async def open_bids(session: AsyncSession, competition: Competition, now: datetime, *, actor: Actor) -> int:
    """The one step that opens a competition's bids, in the caller's transaction (the close at the deadline): every
    bid is decrypted into its plain columns and its ciphertext deleted, every bid's steps go into the audit trail
    under the bid with the digests of the sealed events they match, and "competition.bids_opened" records the step.
    Idempotent: once the data key says the bids were opened, nothing happens again. Returns how many it opened."""
    competition_id = competition.id or 0
    row = await _key_row(session, competition_id, create=True)
    assert row is not None
    if row.opened_at is not None:
        return 0
    key = _unwrap(row)
    bids = (await session.scalars(sa.select(Bid).where(Bid.competition_id == competition_id,
                                                       Bid.sealed_content.is_not(None)).order_by(Bid.id))).all()
    opened: list[tuple[Bid, BidContent]] = []
    for bid in bids:
        content = read_content(bid, key)
        bid.organisation_id, bid.answers = content.organisation_id, dict(content.answers)
        bid.price_pence, bid.vat_pence = content.price_pence, content.vat_pence
        bid.created_by_user_id, bid.submitted_by_user_id = content.created_by_user_id, content.submitted_by_user_id
        bid.sealed_content = None
        for entry in content.attachments:  # the files stay sealed: only what they are called and their size open
            await session.execute(sa.update(BidAttachment).where(
                BidAttachment.id == entry["id"], BidAttachment.bid_id == bid.id).values(
                name=entry["name"], filename=entry["filename"], size_bytes=entry["size_bytes"],
                sha256=entry["sha256"]))
        opened.append((bid, content))
    row.opened_at = now
    await session.flush()
    for bid, content in opened:
        await record(session, actor=actor, action="bid.unsealed", entity_type="bid", entity_id=bid.id or 0, now=now,
                     after={"competition_id": competition_id, "organisation_id": bid.organisation_id,
                            "state": bid.state, "revision": bid.revision,
                            "price_pence": bid.price_pence, "vat_pence": bid.vat_pence,
                            "attachments": list(content.attachments),
                            "steps": [{**step, "digest": _digest(step)} for step in content.steps]})
    await record(session, actor=actor, action=BIDS_OPENED, entity_type="competition", entity_id=competition_id,
                 now=now, after={"bids": [bid.id for bid, _ in opened],
                                 "submitted": sum(1 for bid, _ in opened if bid.state == BidState.SUBMITTED),
                                 "sealing_key_id": row.sealing_key_id})
    return len(opened)

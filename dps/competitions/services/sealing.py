"""The audit trail of sealed bids (C5).

Until the deadline each step of a bid is audited as an opaque "sealed_bid" event: a digest under a random token
of its own, with no bidder, bid, competition or content, and nothing linking two steps. The steps wait on the
bid and, at the close, are written to the audit trail under the bid with the digests that match the sealed
events.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from dps.audit.services import Actor, record
from dps.competitions.models import Bid, Competition
from dps.identity.services import SignedInUser

SEALED = Actor.system("sealed-bid")


def _digest(step: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(step, sort_keys=True, default=str).encode()).hexdigest()


async def audit_sealed_step(session: AsyncSession, bid: Bid, action: str, user: SignedInUser,
                            now: datetime) -> None:
    """C5: the step is kept on the bid and the audit chain gets only its digest, under a random token of its
    own: no bidder, bid, competition or content, and nothing that links two steps of one bid, can be read from
    the audit log before the deadline. The salt stops anyone confirming a guessed step against the digest."""
    step = {"token": secrets.token_hex(16), "action": action, "actor_user_id": user.id, "actor_label": user.email,
            "state": bid.state, "revision": bid.revision, "at": now.isoformat(), "salt": secrets.token_hex(16)}
    bid.sealed_steps = [*bid.sealed_steps, step]
    await record(session, actor=SEALED, action="bid.sealed_step", entity_type="sealed_bid",
                 entity_id=step["token"], now=now, after={"digest": _digest(step)})


async def unseal_audit(session: AsyncSession, competition: Competition, now: datetime, *, actor: Actor) -> None:
    """At the close: every bid's steps go into the audit trail under the bid, with the digests of the sealed
    events they match."""
    bids = (await session.scalars(sa.select(Bid).where(Bid.competition_id == competition.id)
                                  .order_by(Bid.id))).all()
    for bid in bids:
        await record(session, actor=actor, action="bid.unsealed", entity_type="bid", entity_id=bid.id or 0, now=now,
                     after={"competition_id": competition.id, "organisation_id": bid.organisation_id,
                            "state": bid.state, "revision": bid.revision,
                            "price_pence": bid.price_pence, "vat_pence": bid.vat_pence,
                            "steps": [{**step, "digest": _digest(step)} for step in bid.sealed_steps]})

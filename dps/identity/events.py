"""What the identity domain tells the rest of the marketplace, through `dps.events.domain_events`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dps.audit.services import Actor


@dataclass(frozen=True)
class SupplierProfileChanged:
    """A supplier's administrator changed its profile: its name or its SME figures may have changed, and the
    catalogue shows both on every listing of the supplier."""

    organisation_id: int
    actor: Actor
    now: datetime

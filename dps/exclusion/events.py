"""What the exclusion domain tells the rest of the marketplace, through `dps.events.domain_events`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dps.audit.services import Actor


@dataclass(frozen=True)
class OrganisationDebarred:
    """A supplier went on the debarment list and the entry is in force: it leaves every agreement at once."""

    organisation_id: int
    organisation_name: str
    entry_id: int
    actor: Actor
    now: datetime

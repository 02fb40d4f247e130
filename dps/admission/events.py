"""What the admission domain tells the rest of the marketplace, through `dps.events.domain_events`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dps.admission.models import Admission
from dps.audit.services import Actor


@dataclass(frozen=True)
class AdmissionChanged:
    """A supplier's membership of a category was suspended, reinstated, removed or restored by re-admission."""

    admission: Admission
    actor: Actor
    now: datetime

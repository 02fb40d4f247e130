"""Delivering the open-data publication of an award notice: the outbox consumer of topic "ocds-publication".

A notice is public the moment it is published: the API (/api/v1/ocds), the public notice page and the contracts
register read it from the database. Where an OCDS publication endpoint is configured (`OCDS_PUBLICATION_URL`, a
notice platform taking release packages), this consumer also sends it the notice's release as a one-release
package. At least once: the release id is the Idempotency-Key and the package is built from what is stored, so a
retry sends the same package; a failure raises, and the outbox tries again later.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from dps.db import make_engine, make_sessionmaker
from dps.outbox.models import OutboxMessage
from dps.settings import Settings
from dps.transparency import ocds
from dps.transparency.services import load_processes, package

logger = logging.getLogger("dps.transparency")


async def notice_releases(sessions: Any, settings: Settings, competition_id: int, tag: str) -> list[dict[str, Any]]:
    """The published releases of one competition with this tag ("award" or "contract")."""
    async with sessions() as session:
        processes = await load_processes(session, [competition_id])
    return [release for process in processes for release in ocds.releases_for(process, settings.ocid_prefix)
            if release["tag"] == [tag]]


def ocds_publication_consumer(settings: Settings, *,
                              transport: httpx.AsyncBaseTransport | None = None):
    async def publish(message: OutboxMessage) -> None:
        url = settings.ocds_publication_url
        if not url:
            return  # served by the API; nothing else to send it to
        engine = make_engine(settings.database_url)
        try:
            releases = await notice_releases(make_sessionmaker(engine), settings,
                                             int(message.payload["competition_id"]), str(message.payload["release"]))
        finally:
            await engine.dispose()
        if not releases:
            logger.warning("outbox message %s: no published %s release of competition %s", message.id,
                           message.payload.get("release"), message.payload.get("competition_id"))
            return
        release = releases[0]
        body = package([release], settings, uri=f"{settings.base_url}/api/v1/ocds/records/{release['ocid']}",
                       published_at=ocds.parse_iso(release["date"]))
        async with httpx.AsyncClient(transport=transport, timeout=30) as client:
            response = await client.post(url, json=body, headers={"Idempotency-Key": release["id"]})
            response.raise_for_status()

    return publish

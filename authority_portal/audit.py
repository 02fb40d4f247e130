"""The audit log for authority admins: browse events by entity, actor and time, and export them as CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, time
from typing import Any

from litestar import Request, Router, get
from litestar.params import FromQuery
from litestar.response import Stream, Template

from dps.audit.services import AuditFilter, entity_types, find_events, stream_events
from dps.calendar import london_instant
from dps.dates import parse_iso_date
from dps.errors import ValidationFailed
from dps.forms import FormErrors
from dps.web.auth import authority_admin_only
from dps.web.database import database_of
from dps.web.deps import DbSession, PageNumber

PAGE_SIZE = 50
CSV_COLUMNS = ("sequence", "occurred_at", "actor_user_id", "actor_label", "action", "entity_type", "entity_id",
               "before", "after", "prev_hash", "hash")


def _criteria(entity_type: str | None, entity_id: str | None, actor: str | None, since: str | None,
              until: str | None, errors: FormErrors) -> AuditFilter:
    def day(raw: str | None, field: str) -> date | None:
        if not raw:
            return None
        try:
            return parse_iso_date(raw, field)
        except ValidationFailed as problem:
            errors.add_error(problem)
            return None

    start, end = day(since, "since"), day(until, "until")
    return AuditFilter(
        entity_type=entity_type or None, entity_id=(entity_id or "").strip() or None,
        actor=(actor or "").strip() or None,
        since=london_instant(start, time(0, 0)) if start else None,
        # "until" is inclusive of that whole London day.
        until=london_instant(end, time(23, 59, 59, 999999)) if end else None,
    )


@get("/", name="authority.audit")
async def audit_log(db_session: DbSession, entity_type: FromQuery[str | None] = None,
                    entity_id: FromQuery[str | None] = None, actor: FromQuery[str | None] = None,
                    since: FromQuery[str | None] = None, until: FromQuery[str | None] = None,
                    page: PageNumber = 1) -> Template:
    errors = FormErrors()
    criteria = _criteria(entity_type, entity_id, actor, since, until, errors)
    page = max(page, 1)
    events, total = await find_events(db_session, criteria, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    query = {"entity_type": entity_type or "", "entity_id": entity_id or "", "actor": actor or "",
             "since": since or "", "until": until or ""}
    return Template("authority/audit.html", status_code=400 if errors else 200, context={
        "events": events, "total": total, "page": page, "pages": max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        "values": query, "entity_types": await entity_types(db_session), "errors": errors,
        "query_string": "&".join(f"{k}={v}" for k, v in query.items() if v)})


@get("/export.csv", name="authority.audit.export")
async def export_csv(request: Request[Any, Any, Any], entity_type: FromQuery[str | None] = None,
                     entity_id: FromQuery[str | None] = None, actor: FromQuery[str | None] = None,
                     since: FromQuery[str | None] = None, until: FromQuery[str | None] = None) -> Stream:
    criteria = _criteria(entity_type, entity_id, actor, since, until, FormErrors())

    async def rows() -> Any:
        # The body is streamed after the handler returns, so it reads through a session of its own that it
        # closes itself (the request's session is already closed by then).
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        async with database_of(request.app).sessions() as session:
            async for event in stream_events(session, criteria):
                writer.writerow([event.sequence, event.occurred_at.isoformat(), event.actor_user_id or "",
                                 event.actor_label, event.action, event.entity_type, event.entity_id,
                                 json.dumps(event.before, sort_keys=True) if event.before is not None else "",
                                 json.dumps(event.after, sort_keys=True) if event.after is not None else "",
                                 event.prev_hash, event.hash])
                if buffer.tell() > 64_000:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return Stream(rows(), media_type="text/csv",
                  headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'})


authority_audit_router = Router(path="/authority/audit", route_handlers=[audit_log, export_csv],
                                guards=[authority_admin_only])

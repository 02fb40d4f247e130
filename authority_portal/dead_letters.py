"""Dead letters: outbox messages (emails, search index changes, Stripe calls, notices) that failed
OUTBOX_MAX_ATTEMPTS times. Authority admins see why and when, and send one back for another round of attempts."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from dps.identity.services import actor_of
from dps.outbox.services import dead_letters, retry_dead_letter
from dps.web.auth import authority_admin_only
from dps.web.deps import CurrentUser, DbSession, Now
from dps.web.forms import redirect_to

TOPIC_NAMES = {"email": "Email", "search-index": "Search index change", "stripe": "Stripe payment",
               "ocds-publication": "Notice publication"}


@get("/dead-letters", name="authority.dead_letters")
async def dead_letters_index(db_session: DbSession, retried: FromQuery[int | None] = None) -> Template:
    return Template("authority/dead_letters.html", context={
        "letters": await dead_letters(db_session), "topics": TOPIC_NAMES, "retried": retried})


@post("/dead-letters/{message_id:int}/retry", name="authority.dead_letters.retry")
async def dead_letter_retry(request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser, now: Now,
                            message_id: FromPath[int]) -> Redirect:
    await retry_dead_letter(db_session, message_id, actor=actor_of(user), now=now)
    return redirect_to(request, "authority.dead_letters", f"?retried={message_id}")


authority_dead_letters_router = Router(path="/authority", route_handlers=[dead_letters_index, dead_letter_retry],
                                       guards=[authority_admin_only])

"""POST /webhooks/stripe: Stripe's signed events. The signature is the authentication (guard `public`; CSRF is
excluded for /webhooks/). A bad signature, a stale timestamp or malformed JSON gets 400 and changes nothing;
unknown event types get 200 and are stored as ignored; a replayed event id changes nothing."""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response, Router, post
from sqlalchemy.exc import IntegrityError

from dps.payments.services import handle_event, record_malformed_event
from dps.payments.webhooks import MalformedEvent, SignatureError, construct_event
from dps.web.auth import public
from dps.web.deps import DbSession

logger = logging.getLogger("dps.payments.webhooks")


@post("/stripe", name="webhooks.stripe", status_code=200, media_type=MediaType.JSON)
async def stripe_webhook(request: Request[Any, Any, Any], db_session: DbSession) -> Response[dict[str, Any]]:
    secret = request.app.state.settings.stripe_webhook_secret
    if not secret:  # nothing can be verified: refuse (Stripe keeps retrying until the secret is configured)
        logger.error("stripe webhook refused: STRIPE_WEBHOOK_SECRET is not set")
        return Response({"error": "webhooks are not configured"}, status_code=400)
    payload = await request.body()
    try:
        event = construct_event(payload, request.headers.get("stripe-signature"), secret,
                                request.app.state.clock.now())
    except SignatureError as error:
        logger.warning("stripe webhook refused: %s", error)
        return Response({"error": str(error)}, status_code=400)
    except MalformedEvent as error:
        logger.error("signed stripe webhook refused as malformed: %s", error)
        await record_malformed_event(db_session, payload, str(error), request.app.state.clock.now())
        return Response({"error": str(error)}, status_code=400)
    try:
        outcome = await handle_event(db_session, event, request.app.state.clock.now())
        await db_session.commit()
    except IntegrityError:  # the same event delivered twice at once: the other delivery stored it
        await db_session.rollback()
        outcome = "duplicate"
    return Response({"received": True, "outcome": outcome}, status_code=200)


# The guard sits on the router so the automatic OPTIONS handler carries it too.
webhooks_router = Router(path="/webhooks", route_handlers=[stripe_webhook], guards=[public])

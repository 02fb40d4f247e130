"""Server-side sessions (Litestar's own), with the session id rotated at sign-in against session fixation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection, Request
from litestar.middleware import DefineMiddleware
from litestar.middleware.session.base import SessionMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Message, Receive, Scope, ScopeSession, Send

_ROTATE = "dps_rotate_session"
_NEW_ID = "dps_new_session_id"


class RotatingSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        state = connection.scope["state"]
        if state.get(_ROTATE):
            if _NEW_ID not in state:
                state[_NEW_ID] = self.generate_session_id()
            return str(state[_NEW_ID])
        return super().get_session_id(connection)

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        old_id = connection.cookies.get(self.config.key)
        if not scope_session and not old_id:
            return  # an anonymous visitor with nothing to keep: no server-side session, no cookie
        if connection.scope["state"].get(_ROTATE) and old_id:
            await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
        await super().store_in_message(scope_session, message, connection)


class LazySessionIdMiddleware(SessionMiddleware[RotatingSessionBackend]):
    """Litestar's session middleware, except that a request without a session cookie is given no session id up
    front: one is made when a session is first stored (`store_in_message`), instead of 32 random bytes on every
    anonymous request for nothing."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = ASGIConnection[Any, Any, Any, Any](scope, receive=receive, send=send)
        scope["session"] = await self.backend.load_from_connection(connection)
        if connection.cookies.get(self.backend.config.key):
            connection._connection_state.session_id = self.backend.get_session_id(connection)
        await self.app(scope, receive, self.create_send_wrapper(connection))


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend

    @property
    def middleware(self) -> DefineMiddleware:
        return DefineMiddleware(LazySessionIdMiddleware, backend=self._backend_class(config=self))


def start_signed_in_session(request: Request[Any, Any, Any], user_id: int, epoch: int = 0) -> None:
    """Replace whatever session the visitor had with a fresh one, under a new id, holding only the user and the
    account's session epoch (a password reset moves it on, which ends this session)."""
    request.scope["state"][_ROTATE] = True
    request.set_session({"user_id": user_id, "epoch": epoch})


def end_session(request: Request[Any, Any, Any]) -> None:
    """Sign out: the session is deleted from the server-side store, not merely forgotten by the browser."""
    request.clear_session()

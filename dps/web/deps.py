"""Typed names for what handlers receive by dependency injection.

The app provides them once (`dependencies=` in dps.app): a handler names the parameter and its type,
`db_session: DbSession`, `user: CurrentUser`, `now: Now`, `settings: AppSettings`, and Litestar passes it in.
"""

from datetime import datetime
from typing import Annotated, Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from dps.db import PointReads
from dps.identity.services import SignedInUser
from dps.settings import Settings
from dps.web.auth import current_user
from dps.web.received import received_at

# The request's database session (dps.web.database), a transaction of its own.
DbSession: TypeAlias = NamedDependency[AsyncSession]
# For a handler that only reads: a session that never takes SQLite's write lock and refuses to write.
ReadingSession: TypeAlias = NamedDependency[AsyncSession]
# A public page's reads by key on every request (dps.db.PointReads): inline on SQLite.
Reads: TypeAlias = NamedDependency[PointReads]
# The signed-in user CurrentUserMiddleware loaded; only for routes whose guard requires one.
CurrentUser: TypeAlias = NamedDependency[SignedInUser]
# The time the request was received, read from the app's injectable clock as it arrived (dps.web.received), before
# any lock or queue; never datetime.now().
Now: TypeAlias = NamedDependency[datetime]
# The app's settings.
AppSettings: TypeAlias = NamedDependency[Settings]
# A page of a paged list (`?page=`): a bounded whole number, so a huge one is a 400, not an overflow.
PageNumber: TypeAlias = Annotated[int, QueryParameter(ge=1, le=100_000)]


async def provide_user(request: Request[Any, Any, Any]) -> SignedInUser:
    user = current_user(request)
    if user is None:  # a guarded route has already refused this; a public route must not ask for a user
        raise NotAuthorizedException("Sign in to continue")
    return user


async def provide_now(request: Request[Any, Any, Any]) -> datetime:
    return received_at(request.scope.get("state")) or request.app.state.clock.now()


async def provide_settings(request: Request[Any, Any, Any]) -> Settings:
    return request.app.state.settings


DEPENDENCIES = {
    "user": Provide(provide_user),
    "now": Provide(provide_now),
    "settings": Provide(provide_settings),
}

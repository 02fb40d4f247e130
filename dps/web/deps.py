"""Typed names for what handlers receive by dependency injection."""

from typing import TypeAlias

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

# The request's database session, provided by the SQLAlchemy plugin under this name.
DbSession: TypeAlias = NamedDependency[AsyncSession]

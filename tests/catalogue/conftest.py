"""Catalogue fixtures: each test's shared search index is closed and forgotten afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catalogue.search import forget_search_index_now


@pytest.fixture(autouse=True)
def close_search_index(request: pytest.FixtureRequest) -> Iterator[None]:
    settings = request.getfixturevalue("settings") if "settings" in request.fixturenames else None
    yield
    if settings is not None:
        forget_search_index_now(settings)

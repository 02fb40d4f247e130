"""Pages kept for visitors who are not signed in, and answers of the open API: a public page that is the same for
every such visitor, or an API answer that is the same for every caller, is made once per version of what it shows,
then answered from memory.

The caller names the version in the key (an innovation's page: the listing's id, its index_version and the day,
read from the database on every request), so a kept page is never older than what the database says. Only two
things in a page differ from one response to the next, and neither is kept:
- the CSP nonce: the page is kept split around this response's nonce, and the next response's nonce is put
  between the parts;
- the CSRF token: a page that holds the visitor's token (a form) is not kept at all.

An API answer has neither: it is kept as it was sent (`body`, `keep_body`).

Both are kept compressed, in one store: least recently used first out, within one byte budget.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any

from litestar import MediaType, Request, Response
from litestar.response import Template
from litestar.utils.scope.state import ScopeState

from dps.compression import Zstd
from dps.web.security_headers import nonce_for

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.datastructures import Cookie
    from litestar.response.base import ASGIResponse
    from litestar.types import TypeEncodersMap

# About 2,000 innovation pages at 4 to 5 KB compressed each, 1,250 search pages at 8 KB, or 1,400 API pages of 20
# innovations at 7 KB (the benchmark's mix of 2,000
# searches asks for 1,094 distinct pages: a budget smaller than what comes round again keeps nothing that returns);
# the server's memory budget (250 MiB at its peak under load, at 100,000 listings) is what bounds it.
KEPT_PAGES_BYTES = 10 * 1024 * 1024
# Zstandard's fastest level: a page is compressed once per render, on the event loop, and unpacked on every answer
# (a search page of 58 KB: 72 µs to pack, 23 µs to unpack; level 3 took 104 µs to pack for a page 2% smaller).
COMPRESSION_LEVEL = 1
_NONCE_GAP = b"\x00"  # marks where each nonce went; a page holding a NUL itself is not kept


class KeptPages:
    """Rendered pages and API answers by key, compressed, within `max_bytes`."""

    def __init__(self, max_bytes: int = KEPT_PAGES_BYTES) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._zstd = Zstd(COMPRESSION_LEVEL)

    def __len__(self) -> int:
        return len(self._pages)

    def answer(self, key: Hashable, request: Request[Any, Any, Any]) -> Response[bytes] | None:
        """The kept page with this response's nonce in it, or None."""
        body = self.body(key)
        if body is None:
            return None
        nonce = nonce_for(request.scope).encode("ascii")
        return Response(body.replace(_NONCE_GAP, nonce), media_type=MediaType.HTML)

    def keep(self, key: Hashable, body: bytes, *, nonce: str, csrf_token: str) -> bool:
        """Keep a rendered page unless it holds the visitor's CSRF token; True if kept."""
        if (csrf_token and csrf_token.encode("ascii") in body) or _NONCE_GAP in body:
            return False
        return self.keep_body(key, body.replace(nonce.encode("ascii"), _NONCE_GAP))

    def body(self, key: Hashable) -> bytes | None:
        """The body kept under `key`, as it was kept, or None."""
        packed = self._pages.get(key)
        if packed is None:
            return None
        self._pages.move_to_end(key)
        return self._zstd.unpack(packed)

    def keep_body(self, key: Hashable, body: bytes) -> bool:
        """Keep a body that is the same for everyone who asks for `key` (no nonce, no token); True if kept."""
        if not self.max_bytes:
            return False
        # A copy of its own size: the compressor's answer is its output buffer shrunk in place, and each kept one
        # would pin the rest of that buffer as a hole in the heap (41 MiB at 100,000 listings).
        packed = memoryview(self._zstd.pack(body)).tobytes()
        if len(packed) > self.max_bytes:
            return False
        old = self._pages.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._pages[key] = packed
        self._bytes += len(packed)
        while self._bytes > self.max_bytes:
            _, dropped = self._pages.popitem(last=False)
            self._bytes -= len(dropped)
        return True


class KeptTemplate(Template):
    """A template response that, once rendered for a visitor who is not signed in, is kept under `key`; with no key
    (a signed-in visitor's page), an ordinary template response."""

    def __init__(self, template_name: str, *, context: dict[str, Any], kept: KeptPages,
                 key: Hashable | None) -> None:
        super().__init__(template_name=template_name, context=context)
        self.kept = kept
        self.key = key

    def to_asgi_response(self, app: Litestar | None, request: Request[Any, Any, Any], *,
                         background: BackgroundTask | BackgroundTasks | None = None,
                         cookies: Iterable[Cookie] | None = None,
                         encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
                         headers: dict[str, str] | None = None, is_head_response: bool = False,
                         media_type: MediaType | str | None = None, status_code: int | None = None,
                         type_encoders: TypeEncodersMap | None = None) -> ASGIResponse:
        response = super().to_asgi_response(
            app, request, background=background, cookies=cookies, encoded_headers=encoded_headers, headers=headers,
            is_head_response=is_head_response, media_type=media_type, status_code=status_code,
            type_encoders=type_encoders)
        if self.key is not None and response.status_code == 200 and not is_head_response:
            csrf_token = ScopeState.from_scope(request.scope).csrf_token
            self.kept.keep(self.key, response.body, nonce=nonce_for(request.scope),
                           csrf_token=csrf_token if isinstance(csrf_token, str) else "")
        return response

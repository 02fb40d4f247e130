"""`dps reindex`: rebuild the search index from the database (every listing that belongs in search).

The listings are read and turned into search documents in a second Python process, while this one writes them
to the index: each side is mostly Python, and one process runs one thread of Python at a time (the GIL), so the
two halves of a rebuild use two cores instead of taking turns on one. The reader sends its documents down a pipe
as length-prefixed MessagePack frames: first the number of listings it will send, then batches of documents, then
an empty frame. It writes nothing else there; its errors go to its standard error, which the rebuild reports.

Run as a module (`python -m catalogue.reindex`), it is that reader: it reads its orders (the database URL, the day
assurance is judged on, the batch size) as JSON on its standard input, so the URL never appears in a process list.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from typing import BinaryIO

import msgspec

from catalogue.search import search_index_for
from catalogue.search.port import SearchDocument, SearchQuery
from dps.settings import Settings

FRAME_HEADER_BYTES = 4
STDERR_KEPT_BYTES = 8 * 1024  # the end of the reader's error output, for the message when it fails
logger = logging.getLogger("dps.search")


class ListingReaderFailed(RuntimeError):
    """The process reading the listings stopped before sending them all: nothing is committed to the index."""


class ReaderOrders(msgspec.Struct, frozen=True):
    database_url: str
    today: date
    batch_size: int


_documents = msgspec.msgpack.Decoder(list[SearchDocument])


class ListingReader:
    """The other process's side of the pipe, as this process sees it: how many listings it will send, and the
    batches of documents as they come."""

    def __init__(self, process: asyncio.subprocess.Process, stderr: bytearray,
                 stderr_read: asyncio.Future[None]) -> None:
        self._process = process
        self._stderr = stderr
        self._stderr_read = stderr_read  # done once the process has closed its error output
        self.total = 0

    async def _frame(self) -> bytes:
        assert self._process.stdout is not None
        try:
            size = int.from_bytes(await self._process.stdout.readexactly(FRAME_HEADER_BYTES), "big")
            return await self._process.stdout.readexactly(size) if size else b""
        except asyncio.IncompleteReadError:
            raise ListingReaderFailed(await self._failure()) from None

    async def _failure(self) -> str:
        code = await self._process.wait()
        await self._stderr_read
        output = bytes(self._stderr).decode(errors="replace").strip()
        logger.debug("The listings reader stopped (exit code %s); the end of its error output:\n%s", code, output)
        lines = output.splitlines()
        return f"Reading the listings failed (exit code {code}): {lines[-1] if lines else 'no message'}"

    async def read_total(self) -> None:
        """The reader's first frame: how many listings it will send (for a progress bar)."""
        self.total = int(msgspec.msgpack.decode(await self._frame()))

    async def batches(self) -> AsyncIterator[list[SearchDocument]]:
        while frame := await self._frame():
            yield _documents.decode(frame)
        if await self._process.wait() != 0:
            raise ListingReaderFailed(await self._failure())


@contextlib.asynccontextmanager
async def listings_read_elsewhere(database_url: str, today: date, batch_size: int) -> AsyncIterator[ListingReader]:
    """Start the reader process; it is stopped on the way out, however the rebuild ended."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "catalogue.reindex", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    assert process.stdin is not None and process.stderr is not None
    stderr = bytearray()

    async def keep_stderr(stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(4096):
            stderr.extend(chunk)
            del stderr[:-STDERR_KEPT_BYTES]

    keeping = asyncio.ensure_future(keep_stderr(process.stderr))
    try:
        process.stdin.write(msgspec.json.encode(ReaderOrders(database_url, today, batch_size)))
        process.stdin.close()
        reader = ListingReader(process, stderr, keeping)
        await reader.read_total()
        yield reader
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        await keeping


async def rebuild_search_index(settings: Settings, now: datetime, *, on_total: Callable[[int], None] | None = None,
                               progress: Callable[[int], None] | None = None, batch_size: int = 500) -> int:
    """Returns how many listings were indexed. The reader reads with a plain (deferred) transaction, so on SQLite
    the marketplace keeps writing meanwhile; changes made during the rebuild reach the index through the outbox."""
    index = search_index_for(settings)
    await index.start()
    async with listings_read_elsewhere(settings.database_url, now.date(), batch_size) as reader:
        if on_total is not None:
            on_total(reader.total)
        return await index.rebuild(reader.batches(), progress)


async def search_index_holds_listings(settings: Settings) -> bool:
    """Whether a search finds any listing: an index in a new layout, or on a new machine, holds none."""
    index = search_index_for(settings)
    await index.start()
    return (await index.search(SearchQuery(page_size=1, highlight=False))).total > 0


# --- the reader process --------------------------------------------------------------------------------------


async def _send_listings(orders: ReaderOrders, out: BinaryIO) -> None:
    from catalogue.services import count_searchable, iter_search_documents
    from dps.db import make_engine, make_sessionmaker

    def send(payload: bytes) -> None:
        out.write(len(payload).to_bytes(FRAME_HEADER_BYTES, "big") + payload)
        out.flush()

    encoder = msgspec.msgpack.Encoder()
    # msgspec decodes the JSON columns (assurance, care settings...) several times faster than the json module.
    engine = make_engine(orders.database_url, immediate_transactions=False, json_deserializer=msgspec.json.decode)
    if engine.dialect.name == "postgresql":
        # One snapshot for the whole read, as SQLite's deferred transaction gives: a listing and its supplier are
        # read as they stood together, even when the supplier is read once for all its listings.
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    try:
        async with make_sessionmaker(engine)() as session:
            send(encoder.encode(await count_searchable(session)))
            async for batch in iter_search_documents(session, orders.today, orders.batch_size):
                send(encoder.encode(batch))
        send(b"")
    finally:
        await engine.dispose()


def _read_listings() -> None:
    orders = msgspec.json.decode(sys.stdin.buffer.read(), type=ReaderOrders)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # the pipe carries frames only: anything printed goes to the error output
    try:
        asyncio.run(_send_listings(orders, out))
    except Exception as error:
        traceback.print_exc()
        summary = (str(error).strip().splitlines() or [""])[0]
        print(f"{type(error).__name__}: {summary}", file=sys.stderr)  # the last line: what the rebuild reports
        sys.exit(1)


if __name__ == "__main__":
    _read_listings()

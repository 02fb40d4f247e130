"""How an uploaded document goes back to a browser: always as a download, never rendered in the site's origin."""

from __future__ import annotations

from typing import Any

from litestar.response import File, Response

from dps.documents import PDF_MEDIA_TYPE
from dps.errors import NotFound

DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
                    "Cache-Control": "private, no-store"}


def pdf_file(path: Any, filename: str) -> File:
    """A PDF stored as a file."""
    return File(path=path, filename=filename, media_type=PDF_MEDIA_TYPE, content_disposition_type="attachment",
                headers=dict(DOWNLOAD_HEADERS))


def stored_document(document: Any, path: Any) -> File:
    """A document row's stored PDF (evidence on a listing), or 404 when there is no such document."""
    if document is None:
        raise NotFound("There is no such document")
    return pdf_file(path, document.filename)


def pdf_bytes(content: bytes, filename: str) -> Response[bytes]:
    """A PDF held in memory (a bid's document, opened from its seal for this download)."""
    return Response(content, media_type=PDF_MEDIA_TYPE, headers={
        **DOWNLOAD_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'})

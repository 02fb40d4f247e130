"""Documents people upload (a listing's evidence, a bid's attachments): PDFs only, checked by their content, never by
the name or type the browser declares. One copy of the check for every upload. Pure: no I/O."""

from __future__ import annotations

import re

MEGABYTE = 1024 * 1024
PDF_MEDIA_TYPE = "application/pdf"
_EOF_WINDOW = 2048  # writers may append whitespace or a trailing comment after the last %%EOF


def is_pdf(content: bytes) -> bool:
    """A PDF starts with the header "%PDF-" and carries its end-of-file marker "%%EOF" near its end."""
    return content.startswith(b"%PDF-") and b"%%EOF" in content[-_EOF_WINDOW:]


def size_words(limit_bytes: int) -> str:
    """A size limit as people read it on a form: "10MB"."""
    return f"{limit_bytes // MEGABYTE}MB"


def size_for_people(size_bytes: int) -> str:
    """A file's size as a list shows it: "340 KB", "2.4 MB" (in the same megabytes as the limits)."""
    if size_bytes < MEGABYTE:
        return f"{max(1, round(size_bytes / 1024))} KB"
    return f"{size_bytes / MEGABYTE:.1f} MB"


def pdf_problem(content: bytes, *, filename: str, max_bytes: int) -> str | None:
    """What is wrong with an uploaded file, in the NHS service manual's words; None when it is a PDF within the limit.
    `filename` is what the browser sent: an empty one means no file was chosen."""
    if not content:
        return "The selected file is empty" if filename.strip() else "Select a PDF file"
    if len(content) > max_bytes:
        return f"The selected file must be smaller than {size_words(max_bytes)}"
    if not is_pdf(content):
        return "The selected file must be a PDF"
    return None


def safe_filename(raw: str, *, fallback: str = "document") -> str:
    """A download name we can put in a header: letters, digits, dot, dash and underscore, ending in .pdf."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", (raw or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip("-.")
    stem = re.sub(r"\.pdf$", "", stem, flags=re.IGNORECASE).strip("-.")[:80] or fallback
    return f"{stem}.pdf"

"""The development mailbox: every email the app sends while developing, readable at /dev/mail without a mail server.

The messages are the .eml files in `Settings.mailbox_dir` (var/mail/), written by the email consumer. The routes
exist only in development (dps.wiring.development_route_handlers) and the guard refuses them elsewhere too.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from markupsafe import Markup, escape

from dps.mail import saved_email, saved_emails
from dps.web.auth import development_only
from dps.web.deps import AppSettings

_LINK = re.compile(r"https?://[^\s<>\"]+")


def linked(text: str) -> Markup:
    """The plain-text body, escaped, with each web address made a link."""
    escaped = str(escape(text))
    with_links = _LINK.sub(lambda found: f'<a href="{found.group(0)}">{found.group(0)}</a>', escaped)
    return Markup(with_links.replace("\n", "<br>\n"))


@get("/", name="dev.mail")
async def mailbox(request: Request[Any, Any, Any], settings: AppSettings, to: FromQuery[str | None] = None) -> Template:
    directory = settings.mailbox_dir
    emails = saved_emails(directory, to=to) if directory is not None else []
    return Template("dev/mail.html", context={"emails": emails, "to": to or "", "directory": directory})


@get("/{name:str}", name="dev.mail.show")
async def show(request: Request[Any, Any, Any], settings: AppSettings, name: FromPath[str]) -> Template:
    email = saved_email(settings.mailbox_dir, name) if settings.mailbox_dir is not None else None
    if email is None:
        raise NotFoundException("There is no such email")
    return Template("dev/mail_message.html", context={"email": email, "body": linked(email.body)})


dev_mail_router = Router(path="/dev/mail", route_handlers=[mailbox, show], guards=[development_only])

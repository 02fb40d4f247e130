"""Helpers for competition tests over HTTP: a browser per user, the bid form and the competition id from a redirect.
The people, admissions and competitions themselves come from tests/factories.py (`make_competition_world`, ...)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.factories import BID_ANSWERS
from tests.helpers import sign_in


class Browser:
    """One test client that signs in as several people in turn, keeping each person's cookies."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.jars: dict[str, httpx.Cookies] = {}
        self.current: str | None = None

    async def be(self, email: str) -> Any:
        if self.current == email:
            return self.client
        if self.current is not None:
            self.jars[self.current] = httpx.Cookies(self.client.cookies)
        self.client.cookies.clear()
        if email in self.jars:
            for cookie in self.jars[email].jar:
                self.client.cookies.jar.set_cookie(cookie)
        else:
            response = await sign_in(self.client, email)
            assert response.status_code == 303, response.text[-500:]
        self.current = email
        return self.client

    async def get(self, email: str, path: str) -> Any:
        return await (await self.be(email)).get(path)

    async def post(self, email: str, path: str, data: dict[str, Any] | None = None) -> Any:
        client = await self.be(email)
        token = client.cookies.get("csrftoken")
        if not token:
            await client.get("/login")
            token = client.cookies.get("csrftoken")
        return await client.post(path, data={**(data or {}), "_csrf_token": token})


def competition_id_from(response: Any) -> int:
    assert response.status_code == 303, response.text[-3000:]
    return int(re.search(r"/buyer/competitions/(\d+)$", response.headers["location"]).group(1))


def bid_form(price: str, vat: str = "0", action: str = "submit", **answers: str) -> dict[str, str]:
    return {"answer-q1": answers.get("q1", BID_ANSWERS["q1"]), "answer-q2": answers.get("q2", BID_ANSWERS["q2"]),
            "answer-q3": answers.get("q3", BID_ANSWERS["q3"]), "price": price, "vat": vat, "action": action}

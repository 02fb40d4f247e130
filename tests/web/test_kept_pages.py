"""The store of pages kept for visitors who are not signed in: each answer carries its own CSP nonce, a page holding
a visitor's CSRF token is never kept, and the byte budget drops the least recently used page first."""

from __future__ import annotations

import re
import secrets
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from litestar import Request

from dps.web.kept_pages import KeptPages
from dps.web.security_headers import nonce_for


def request() -> Request[Any, Any, Any]:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"", "state": {}})


def page(nonce: str, text: str = "Remote monitoring") -> bytes:
    return (f'<html><body><h1>{text}</h1><script nonce="{nonce}">document.body.className += " js"</script>'
            f'<p>{text}</p></body></html>').encode()


def test_each_answer_carries_the_nonce_of_its_own_response_and_nothing_else_changes():
    kept, first = KeptPages(), request()
    body = page(nonce_for(first.scope))
    assert kept.keep("p", body, nonce=nonce_for(first.scope), csrf_token="")

    second, third = request(), request()
    answers = [kept.answer("p", second), kept.answer("p", third)]

    for answer, asked in zip(answers, (second, third), strict=True):
        assert answer is not None
        assert re.findall(rb'nonce="([^"]+)"', answer.content) == [nonce_for(asked.scope).encode()]
        assert answer.content == body.replace(nonce_for(first.scope).encode(), nonce_for(asked.scope).encode())
    assert nonce_for(second.scope) != nonce_for(third.scope)


def test_a_page_holding_the_visitors_csrf_token_or_a_nul_is_not_kept():
    kept, token = KeptPages(), secrets.token_urlsafe(32)
    form = page("n0nce", text=f'<input type="hidden" name="_csrf_token" value="{token}">')
    assert not kept.keep("form", form, nonce="n0nce", csrf_token=token)
    assert not kept.keep("nul", page("n0nce", text="a\x00b"), nonce="n0nce", csrf_token="")
    assert kept.answer("form", request()) is None and kept.answer("nul", request()) is None
    assert len(kept) == 0


def test_an_unknown_key_has_no_answer():
    kept = KeptPages()
    kept.keep(("innovation", 1, 3), page("n0nce"), nonce="n0nce", csrf_token="")
    assert kept.answer(("innovation", 1, 4), request()) is None  # another version of the listing


def test_the_least_recently_used_page_leaves_first_when_the_budget_is_spent():
    nonce = secrets.token_urlsafe(18)
    pages = {key: page(nonce, text=secrets.token_hex(2000)) for key in "abc"}  # ~2.2 KB each compressed
    kept = KeptPages(max_bytes=5000)  # room for two, not three
    kept.keep("a", pages["a"], nonce=nonce, csrf_token="")
    kept.keep("b", pages["b"], nonce=nonce, csrf_token="")
    assert kept.answer("a", request()) is not None  # "a" is now the most recently used
    kept.keep("c", pages["c"], nonce=nonce, csrf_token="")

    assert kept.answer("b", request()) is None
    assert kept.answer("a", request()) is not None and kept.answer("c", request()) is not None
    assert len(kept) == 2


def test_a_budget_of_nothing_keeps_nothing():
    kept = KeptPages(max_bytes=0)
    assert not kept.keep("a", page("n0nce"), nonce="n0nce", csrf_token="")
    assert kept.answer("a", request()) is None


@given(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.binary(min_size=0, max_size=3000)), max_size=40),
       st.integers(min_value=0, max_value=6000))
def test_the_pages_kept_never_exceed_the_budget_and_each_answer_is_the_last_page_kept(writes, budget):
    kept, last = KeptPages(max_bytes=budget), {}
    for key, text in writes:
        body = b"<p>" + text.replace(b"\x00", b"") + b"</p>"
        if kept.keep(key, body, nonce="zz-nonce-zz", csrf_token=""):
            last[key] = body
        assert kept._bytes <= budget
    for key, body in last.items():
        answer = kept.answer(key, request())
        assert answer is None or answer.content == body


def test_an_api_answer_is_kept_as_it_was_sent_nonce_like_bytes_and_all():
    kept = KeptPages()
    body = b'{"data":[{"name":"Zio \\u0000 patch","nonce":"abc"}],"meta":{"total":1}}'
    assert kept.keep_body(("api", 1), body)
    assert kept.body(("api", 1)) == body == kept.body(("api", 1))
    assert kept.body(("api", 2)) is None
    assert kept.answer(("api", 1), request()) is not None  # one store: a key names one thing


def test_pages_and_api_answers_share_one_budget_least_recently_used_out_first():
    nonce = secrets.token_urlsafe(18)
    kept = KeptPages(max_bytes=5000)  # room for two bodies of ~2.2 KB compressed, not three
    kept.keep("page", page(nonce, text=secrets.token_hex(2000)), nonce=nonce, csrf_token="")
    assert kept.keep_body("api", secrets.token_hex(2000).encode())
    assert kept.answer("page", request()) is not None  # the page is now the most recently used
    assert kept.keep_body("api 2", secrets.token_hex(2000).encode())

    assert kept.body("api") is None
    assert kept.answer("page", request()) is not None and kept.body("api 2") is not None
    assert not KeptPages(max_bytes=0).keep_body("api", b"{}")


@given(st.binary(max_size=20_000), st.integers(min_value=-5, max_value=19))
def test_what_is_packed_unpacks_as_it_was_from_any_thread(data, level):
    from concurrent.futures import ThreadPoolExecutor

    from dps.compression import Zstd

    zstd = Zstd(level)
    packed = zstd.pack(data)
    with ThreadPoolExecutor(max_workers=3) as threads:
        assert list(threads.map(zstd.unpack, [packed] * 6)) == [data] * 6

"""The API sends stored documents on without decoding them: making their URLs absolute on the JSON bytes must give
exactly what decoding, rewriting and encoding again would, whatever a supplier wrote in the text."""

from __future__ import annotations

import json

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from catalogue.api import absolute, absolute_json

BASE = "https://dps.example.nhs.uk"
TEXT = st.text(alphabet=st.sampled_from(['"', "\\", "/", ":", "u", "r", "l", ",", "{", "}", "é", " ", "a"]),
               max_size=40) | st.sampled_from(['"url":"/evil', '{"url":"/x"}', '\\"url\\":\\"/'])


@given(name=TEXT, description=TEXT, titles=st.lists(TEXT, max_size=3))
def test_absolute_urls_on_the_bytes_equal_absolute_urls_on_the_document(name, description, titles):
    document = {"id": 7, "name": name, "description": description, "url": "/catalogue/innovations/7",
                "documents": [{"id": n, "title": title, "url": f"/catalogue/innovations/7/documents/{n}"}
                              for n, title in enumerate(titles)]}
    for encoded in (msgspec.json.encode(document), json.dumps(document, separators=(",", ":")).encode()):
        assert json.loads(absolute_json(encoded, BASE.encode())) == absolute(document, BASE)

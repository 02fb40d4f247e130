"""`X-Received-At` is written field by field for a UTC time: it must say exactly what `isoformat` would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from dps.web.received import received_at_header

OFFSETS = st.integers(min_value=-23 * 60, max_value=23 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
       st.one_of(st.just(UTC), OFFSETS))
def test_the_header_is_the_iso_time_with_microseconds(moment, zone):
    received = moment.replace(tzinfo=zone)
    name, value = received_at_header(received)
    assert name == b"x-received-at"
    assert value.decode() == received.isoformat(timespec="microseconds")
    assert datetime.fromisoformat(value.decode()) == received

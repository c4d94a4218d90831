"""Wire dates and times are read exactly, or refused: never guessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from photoarchive.datetimes import DateParseError, parse_iim_moment, parse_moment

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-09-12 14:00 GMT", datetime(2022, 9, 12, 14, 0, tzinfo=UTC)),
        (
            "2022-09-12T14:00:00+03:00",
            datetime(2022, 9, 12, 14, 0, tzinfo=timezone(timedelta(hours=3))),
        ),
        ("12 September 2022 1400 GMT", datetime(2022, 9, 12, 14, 0, tzinfo=UTC)),
        ("12 SEPT 2022 14:00 BST", datetime(2022, 9, 12, 13, 0, tzinfo=UTC)),
        ("September 12, 2022 14:00 EDT", datetime(2022, 9, 12, 18, 0, tzinfo=UTC)),
        ("1400 GMT 12 SEPTEMBER 2022", datetime(2022, 9, 12, 14, 0, tzinfo=UTC)),
        ("0001 GMT ON 12 SEP 2022", datetime(2022, 9, 12, 0, 1, tzinfo=UTC)),
        ("2022-09-12 14:00", datetime(2022, 9, 12, 13, 0, tzinfo=UTC)),  # London summer time
    ],
)
def test_readable_moments(text: str, expected: datetime) -> None:
    assert parse_moment(text, LONDON) == expected


def test_a_date_alone_is_the_start_or_the_end_of_the_day() -> None:
    assert parse_moment("30 September 2022", LONDON).hour == 0
    end = parse_moment("30 September 2022", LONDON, end_of_day=True)
    assert (end.hour, end.minute) == (23, 59)


@pytest.mark.parametrize(
    ("text", "zone", "words"),
    [
        ("next tuesday", LONDON, "cannot read"),
        ("31 February 2022 10:00 GMT", LONDON, "not a real date"),
        ("2022-09-12 14:00 XYZ", LONDON, "unknown time zone"),
        ("2022-09-12 14:00", None, "gives no time zone"),
        ("12 Smarch 2022", LONDON, "cannot read the month"),
    ],
)
def test_unreadable_moments_are_refused(text: str, zone: ZoneInfo | None, words: str) -> None:
    with pytest.raises(DateParseError, match=words):
        parse_moment(text, zone)


def test_iim_dates() -> None:
    assert parse_iim_moment("20220912", "090000+0300") == datetime(2022, 9, 12, 6, 0, tzinfo=UTC)
    assert parse_iim_moment("20220930", None, end_of_day=True).hour == 23
    with pytest.raises(DateParseError):
        parse_iim_moment("2022-09-12", None)

"""Credit lines name agencies in many spellings."""

from __future__ import annotations

import pytest

from photoarchive.credits import normalise_agency


@pytest.mark.parametrize(
    ("credit", "agency"),
    [
        ("Reuters", "Reuters"),
        ("REUTERS/Gleb Garanich", "Reuters"),
        ("Gleb Garanich/Reuters", "Reuters"),
        ("Photo: AFP", "AFP"),
        ("AFP via Getty Images", "AFP"),
        ("© AFP 2022", "AFP"),
        ("Credit: Channel 4", "Channel 4"),
        ("Channel 4 News", "Channel 4"),
        ("Twitter", "Twitter"),
        ("@someone/Twitter", "Twitter"),
        ("X (formerly Twitter)", "Twitter"),
        ("Staff photographer", "Staff photographer"),
        ("", None),
        (None, None),
    ],
)
def test_normalise_agency(credit: str | None, agency: str | None) -> None:
    assert normalise_agency(credit) == agency

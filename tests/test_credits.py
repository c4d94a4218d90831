"""Credit lines name agencies in many spellings."""

from __future__ import annotations

import pytest

from photoarchive.credits import alias_table, normalise_agency, parse_credit


@pytest.mark.parametrize(
    ("credit", "agency", "photographer", "distributor"),
    [
        ("Reuters", "Reuters", None, None),
        ("REUTERS/Gleb Garanich", "Reuters", "Gleb Garanich", None),
        ("Gleb Garanich/Reuters", "Reuters", "Gleb Garanich", None),
        ("Photo: AFP", "AFP", None, None),
        ("AFP via Getty Images", "AFP", None, "Getty Images"),
        ("© AFP 2022", "AFP", None, None),
        ("Credit: Channel 4", "Channel 4", None, None),
        ("Channel 4 News", "Channel 4", None, None),
        ("Twitter", "Twitter", None, None),
        ("@someone/Twitter", "Twitter", "@someone", None),
        ("X (formerly Twitter)", "Twitter", None, None),
        ("Staff photographer", "Staff", None, None),
        ("Genya Savilov / AFP via Getty Images", "AFP", "Genya Savilov", "Getty Images"),
    ],
)
def test_parse_credit(
    credit: str, agency: str, photographer: str | None, distributor: str | None
) -> None:
    line = parse_credit(credit)
    assert line is not None and line.known
    assert (line.agency, line.photographer, line.distributor) == (agency, photographer, distributor)


@pytest.mark.parametrize("credit", ["", "   ", None, "Credit:"])
def test_empty_credit_has_no_agency(credit: str | None) -> None:
    assert parse_credit(credit) is None
    assert normalise_agency(credit) is None


def test_unknown_credit_keeps_its_text_and_is_not_known() -> None:
    line = parse_credit("Photo: Kharkiv Regional Administration")
    assert line is not None and not line.known
    assert line.agency == "Kharkiv Regional Administration"


def test_policy_aliases_extend_the_built_in_names() -> None:
    table = alias_table({"Ukrinform": ["ukrinform", "укрінформ"]})
    assert normalise_agency("Укрінформ/Ivan Petrenko", table) == "Ukrinform"
    assert normalise_agency("Reuters", table) == "Reuters"

#!/usr/bin/env python3
"""Write src/photoarchive/metadata/countries.py: ISO 3166 two-letter to three-letter codes.

IPTC-IIM's Country Code (2:100) holds three letters; XMP and desks often give two. The table
comes from pycountry (ISO 3166-1), which photoarchive does not depend on at run time:

    pip install pycountry && python scripts/make_country_codes.py
"""

from __future__ import annotations

from pathlib import Path

import pycountry  # type: ignore[import-not-found]

OUT = Path(__file__).resolve().parent.parent / "src" / "photoarchive" / "metadata" / "countries.py"


def main() -> None:
    pairs = sorted((c.alpha_2, c.alpha_3) for c in pycountry.countries)
    rows = "\n".join(
        "    " + " ".join(f'"{a}": "{b}",' for a, b in pairs[i : i + 6])
        for i in range(0, len(pairs), 6)
    )
    doc = "ISO 3166-1 country codes, two letters to three (made by scripts/make_country_codes.py)."
    OUT.write_text(
        f'"""{doc}"""\n\nALPHA3 = {{\n' + rows + "\n}\n",
        encoding="utf-8",
    )
    print(f"wrote {len(pairs)} codes to {OUT}")


if __name__ == "__main__":
    main()

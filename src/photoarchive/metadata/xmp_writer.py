"""XMP writer: a packet with IPTC Core properties for record fields."""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape

from photoarchive.metadata.xmp import CORE, DC, PS, RDF, RIGHTS

_ALT = {
    "caption": "dc:description",
    "title": "dc:title",
    "copyright": "dc:rights",
    "usage_terms": "xmpRights:UsageTerms",
}
_SEQ = {"byline": "dc:creator"}
_BAG = {"keywords": "dc:subject"}
_SIMPLE = {
    "headline": "photoshop:Headline",
    "credit": "photoshop:Credit",
    "source": "photoshop:Source",
    "city": "photoshop:City",
    "province_state": "photoshop:State",
    "country": "photoshop:Country",
    "date_created": "photoshop:DateCreated",
    "special_instructions": "photoshop:Instructions",
    "transmission_reference": "photoshop:TransmissionReference",
    "byline_title": "photoshop:AuthorsPosition",
    "sublocation": "Iptc4xmpCore:Location",
    "country_code": "Iptc4xmpCore:CountryCode",
}


def build_xmp(values: Mapping[str, str | list[str]]) -> bytes:
    """Return a UTF-8 XMP packet holding the given record fields."""
    parts: list[str] = []
    for name, value in values.items():
        if name in _ALT:
            tag = _ALT[name]
            parts.append(
                f'<{tag}><rdf:Alt><rdf:li xml:lang="x-default">{escape(str(value))}'
                f"</rdf:li></rdf:Alt></{tag}>"
            )
        elif name in _SEQ or name in _BAG:
            tag, box = (_SEQ[name], "Seq") if name in _SEQ else (_BAG[name], "Bag")
            items = value if isinstance(value, list) else [v.strip() for v in value.split(";")]
            lis = "".join(f"<rdf:li>{escape(v)}</rdf:li>" for v in items)
            parts.append(f"<{tag}><rdf:{box}>{lis}</rdf:{box}></{tag}>")
        elif name in _SIMPLE:
            tag = _SIMPLE[name]
            parts.append(f"<{tag}>{escape(str(value))}</{tag}>")
        else:
            raise ValueError(f"no XMP property for field {name!r}")
    body = "".join(parts)
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description rdf:about="" xmlns:dc="{DC}" xmlns:photoshop="{PS}" '
        f'xmlns:Iptc4xmpCore="{CORE}" xmlns:xmpRights="{RIGHTS}">{body}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )
    return packet.encode("utf-8")

"""XMP writer: packets with IPTC Core properties for record fields, valid XML for any text,
split into standard and extended XMP where a JPEG segment cannot hold them."""

from __future__ import annotations

import hashlib
import re
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
XMP_NOTE = "http://ns.adobe.com/xmp/note/"
# XML 1.0 allows only tab, LF, CR and these ranges: a caption holding ESC, NUL or a lone
# surrogate (a stray byte in a wire feed) would otherwise make the whole packet unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAMESPACES = (
    f'xmlns:dc="{DC}" xmlns:photoshop="{PS}" xmlns:Iptc4xmpCore="{CORE}" xmlns:xmpRights="{RIGHTS}"'
)


def xml_safe(value: str) -> str:
    """Return the text with each character XML 1.0 forbids replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", value)


def xml_text(value: str) -> str:
    """Return text as XML character data: characters XML 1.0 forbids become U+FFFD, the
    markup characters are escaped, and CR is kept as a reference (parsers drop a raw one)."""
    return escape(xml_safe(value), {"\r": "&#xD;"})


def build_xmp(values: Mapping[str, str | list[str]]) -> bytes:
    """Return a UTF-8 XMP packet holding the given record fields."""
    return _packet([_property(name, value) for name, value in values.items()])


def build_xmp_parts(
    values: Mapping[str, str | list[str]], limit: int
) -> tuple[bytes, bytes | None]:
    """Return (standard packet, extended XMP or None) with the standard packet at most
    `limit` bytes, as XMP part 3 (1.1.3.1) has JPEGs carry XMP beyond one 64 KB segment.

    The largest properties move to the extended XMP until the standard packet fits; it
    then names the extended part by its MD5 (xmpNote:HasExtendedXMP).
    """
    properties = {name: _property(name, value) for name, value in values.items()}
    whole = _packet(list(properties.values()))
    if len(whole) <= limit:
        return whole, None
    kept = dict(properties)
    moved: list[str] = []
    guid_placeholder = "0" * 32
    for name in sorted(properties, key=lambda n: len(properties[n].encode("utf-8")), reverse=True):
        moved.append(properties[name])
        del kept[name]
        if len(_packet(list(kept.values()), guid_placeholder)) <= limit:
            break
    extended = _xmpmeta(moved)
    guid = hashlib.md5(extended).hexdigest().upper()
    return _packet(list(kept.values()), guid), extended


def _property(name: str, value: str | list[str]) -> str:
    if name in _ALT:
        tag = _ALT[name]
        return (
            f'<{tag}><rdf:Alt><rdf:li xml:lang="x-default">{xml_text(str(value))}'
            f"</rdf:li></rdf:Alt></{tag}>"
        )
    if name in _SEQ or name in _BAG:
        tag, box = (_SEQ[name], "Seq") if name in _SEQ else (_BAG[name], "Bag")
        items = value if isinstance(value, list) else [v.strip() for v in value.split(";")]
        lis = "".join(f"<rdf:li>{xml_text(v)}</rdf:li>" for v in items)
        return f"<{tag}><rdf:{box}>{lis}</rdf:{box}></{tag}>"
    if name in _SIMPLE:
        tag = _SIMPLE[name]
        return f"<{tag}>{xml_text(str(value))}</{tag}>"
    raise ValueError(f"no XMP property for field {name!r}")


def _packet(properties: list[str], extended_guid: str | None = None) -> bytes:
    body = "".join(properties)
    note = ""
    if extended_guid is not None:
        note = f' xmlns:xmpNote="{XMP_NOTE}"'
        body += f"<xmpNote:HasExtendedXMP>{extended_guid}</xmpNote:HasExtendedXMP>"
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description rdf:about="" {_NAMESPACES}{note}>{body}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )
    return packet.encode("utf-8")


def _xmpmeta(properties: list[str]) -> bytes:
    # Extended XMP is a whole serialisation without the packet wrapper (XMP part 3).
    return (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description rdf:about="" {_NAMESPACES}>{"".join(properties)}</rdf:Description>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()

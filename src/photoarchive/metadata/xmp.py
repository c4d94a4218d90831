"""XMP reader (Pillow finds the packet, defusedxml parses it): IPTC Core fields from XMP."""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from PIL import Image

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
PS = "http://ns.adobe.com/photoshop/1.0/"
CORE = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
RIGHTS = "http://ns.adobe.com/xap/1.0/rights/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# (namespace, property) -> record field
_PROPERTIES = {
    (DC, "description"): "caption",
    (DC, "title"): "title",
    (DC, "creator"): "byline",
    (DC, "rights"): "copyright",
    (DC, "subject"): "keywords",
    (PS, "Headline"): "headline",
    (PS, "Credit"): "credit",
    (PS, "Source"): "source",
    (PS, "City"): "city",
    (PS, "State"): "province_state",
    (PS, "Country"): "country",
    (PS, "DateCreated"): "date_created",
    (PS, "Instructions"): "special_instructions",
    (PS, "TransmissionReference"): "transmission_reference",
    (PS, "AuthorsPosition"): "byline_title",
    (CORE, "Location"): "sublocation",
    (CORE, "CountryCode"): "country_code",
    (RIGHTS, "UsageTerms"): "usage_terms",
}
MAX_PACKET = 4 * 1024 * 1024


@dataclass
class XmpPacket:
    """What the XMP packet says, under record field names."""

    values: dict[str, Any] = field(default_factory=dict)
    present: bool = False
    warnings: list[str] = field(default_factory=list)


def find_packet(im: Image.Image, data: bytes) -> bytes | None:
    """Return the raw XMP packet of an image opened with Pillow, or None."""
    packet = im.info.get("xmp")
    if im.format == "TIFF" and not packet:
        packet = getattr(im, "tag_v2", {}).get(700)
    if im.format == "PNG" and not packet:
        packet = _png_itxt_xmp(data)  # Pillow sees chunks after IDAT only once pixels load
    if isinstance(packet, str):
        packet = packet.encode("utf-8")
    return packet if isinstance(packet, bytes) and packet.strip(b"\x00 \n") else None


def parse_xmp(packet: bytes) -> XmpPacket:
    """Parse an XMP packet; a malformed or hostile one yields a warning, not an exception."""
    result = XmpPacket(present=True)
    if len(packet) > MAX_PACKET:
        result.warnings.append("XMP packet too large, ignored")
        return result
    try:
        root = SafeET.fromstring(_packet_text(packet))
    except Exception as exc:  # defusedxml forbids entities; expat rejects broken XML
        result.warnings.append(f"XMP unreadable ({type(exc).__name__})")
        return result
    for desc in root.iter(f"{{{RDF}}}Description"):
        for (ns, prop), name in _PROPERTIES.items():
            tag = f"{{{ns}}}{prop}"
            value: Any = desc.attrib.get(tag)
            if value is None:
                child = desc.find(tag)
                if child is None:
                    continue
                value = _property_value(child, as_list=name in ("keywords", "byline"))
            elif name in ("keywords", "byline"):
                value = [value]
            if name == "byline" and isinstance(value, list):
                value = "; ".join(value) if value else None
            if isinstance(value, str):
                value = value.strip() or None
            if value and name not in result.values:
                result.values[name] = value
    date = result.values.get("date_created")
    if isinstance(date, str) and not _looks_like_date(date):
        del result.values["date_created"]
        result.warnings.append(f"XMP DateCreated '{date[:40]}' is not a date")
    return result


def _packet_text(packet: bytes) -> str:
    if packet.startswith((b"\xfe\xff", b"\x00<")):
        text = packet.decode("utf-16-be", errors="replace")
    elif packet.startswith((b"\xff\xfe", b"<\x00")):
        text = packet.decode("utf-16-le", errors="replace")
    else:
        text = packet.decode("utf-8", errors="replace")
    text = text.lstrip("\ufeff\x00 \r\n\t")
    # The <?xpacket?> and <?xml?> prologues are not needed to parse, and an encoding
    # declaration in a str confuses the parser.
    text = re.sub(r"<\?xml[^>]*\?>", "", text, count=1)
    return text.rstrip("\x00 \r\n\t")


def _property_value(el: Element, as_list: bool) -> Any:
    for container in ("Alt", "Seq", "Bag"):
        box = el.find(f"{{{RDF}}}{container}")
        if box is None:
            continue
        items = box.findall(f"{{{RDF}}}li")
        if container == "Alt":
            chosen = next((li for li in items if li.get(XML_LANG) == "x-default"), None)
            if chosen is None and items:
                chosen = items[0]
            text = (chosen.text or "") if chosen is not None else ""
            return [text] if as_list and text else text
        texts = [(li.text or "").strip() for li in items]
        texts = [t for t in texts if t]
        return texts if as_list else (texts[0] if texts else None)
    text = (el.text or "").strip()
    if as_list:
        return [text] if text else []
    return text


def _looks_like_date(value: str) -> bool:
    return bool(
        re.match(
            r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
            r"(Z|[+-]\d{2}:\d{2})?)?)?)?$",
            value,
        )
    )


def _png_itxt_xmp(data: bytes) -> bytes | None:
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\x00"):
            rest = body[len(b"XML:com.adobe.xmp\x00") :]
            if len(rest) < 2:
                return None
            compressed = rest[0] == 1
            rest = rest[2:]
            _lang, _, rest = rest.partition(b"\x00")
            _translated, _, text = rest.partition(b"\x00")
            if compressed:
                try:
                    text = zlib.decompressobj().decompress(text, MAX_PACKET)
                except zlib.error:
                    return None
            return text
        if kind == b"IEND":
            break
        pos += 12 + length
    return None

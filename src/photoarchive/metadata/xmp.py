"""XMP reader (Pillow finds the packet, defusedxml parses it): IPTC Core fields from XMP."""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from PIL import Image

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
PS = "http://ns.adobe.com/photoshop/1.0/"
CORE = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
RIGHTS = "http://ns.adobe.com/xap/1.0/rights/"
EXIF = "http://ns.adobe.com/exif/1.0/"
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


def find_packet(im: Image.Image, data: bytes | BinaryIO) -> bytes | None:
    """Return the raw XMP packet of an image opened with Pillow, or None.

    `data` is the file's bytes or a binary file open on it (a PNG's chunks are then read
    one by one, skipping the image data).
    """
    packet = im.info.get("xmp")
    if im.format == "TIFF" and not packet:
        packet = getattr(im, "tag_v2", {}).get(700)
    if im.format == "PNG" and not packet:
        packet = _png_itxt_xmp(data)  # Pillow sees chunks after IDAT only once pixels load
    if im.format in ("JPEG", "MPO") and not packet:
        packet = _jpeg_variant_xmp(data)  # Pillow knows only Adobe's segment header
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
    _read_gps(root, result)
    date = result.values.get("date_created")
    if isinstance(date, str) and not _looks_like_date(date):
        del result.values["date_created"]
        result.warnings.append(f"XMP DateCreated '{date[:40]}' is not a date")
    return result


def _read_gps(root: Element, result: XmpPacket) -> None:
    """exif:GPSLatitude and exif:GPSLongitude of the photo (top-level properties only: the
    same names inside IPTC Extension location structures describe places, not the camera)."""
    found: dict[str, str] = {}
    for rdf in root.iter(f"{{{RDF}}}RDF"):
        for desc in rdf.findall(f"{{{RDF}}}Description"):
            for prop in ("GPSLatitude", "GPSLongitude"):
                tag = f"{{{EXIF}}}{prop}"
                value = desc.attrib.get(tag)
                if value is None:
                    child = desc.find(tag)
                    value = child.text if child is not None else None
                if value and value.strip() and prop not in found:
                    found[prop] = value
    if not found:
        return
    lat = xmp_coordinate(found.get("GPSLatitude", ""), "NS", 90.0)
    lon = xmp_coordinate(found.get("GPSLongitude", ""), "EW", 180.0)
    if lat is None or lon is None:
        shown = ", ".join(f"{k} '{v[:40]}'" for k, v in found.items())
        result.warnings.append(f"XMP GPS position not read ({shown})")
        return
    result.values["gps_lat"], result.values["gps_lon"] = lat, lon


_COORDINATE = re.compile(
    r"\s*([+-])?(\d{1,3}(?:\.\d{1,12})?)"
    r"(?:(?:,|\s+)(\d{1,2}(?:\.\d{1,12})?)(?:(?:,|\s+)(\d{1,2}(?:\.\d{1,12})?))?)?"
    r"\s*([NSEWnsew])?\s*"
)


def xmp_coordinate(text: str, hemispheres: str, limit: float) -> float | None:
    """Read an XMP GPSCoordinate as signed decimal degrees: "DDD,MM,SSk" and "DDD,MM.mmk"
    (XMP's forms, k one of `hemispheres`), or the decimal forms other writers use
    ("49.98538N", "-36.25"); None when it is none of them or out of range."""
    match = _COORDINATE.fullmatch(text)
    if match is None:
        return None
    sign, degrees, minutes, seconds, hemisphere = match.groups()
    if hemisphere and hemisphere.upper() not in hemispheres:
        return None
    if (minutes and float(minutes) >= 60) or (seconds and float(seconds) >= 60):
        return None
    if (minutes or seconds) and "." in degrees:
        return None
    value = float(degrees) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
    south_or_west = bool(hemisphere) and hemisphere.upper() == hemispheres[1]
    if sign == "-" and hemisphere and not south_or_west:
        return None  # "-49,59N": contradicts itself
    if not value <= limit:
        return None
    return round(-value if sign == "-" or south_or_west else value, 7)


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
    return _without_xml_declaration(text).rstrip("\x00 \r\n\t")


def _without_xml_declaration(text: str) -> str:
    """Remove the first `<?xml ...?>` (no `>` inside), as re.sub(r"<\\?xml[^>]*\\?>") did.

    The pattern rescanned the text after every `<?xml` up to the next `>`, quadratic in a
    packet of `<?xml<?xml...`; here each stretch is scanned once: every `<?xml` before a `>`
    that does not close a declaration fails at that same `>`, so the search goes on after it.
    """
    start = text.find("<?xml")
    while start >= 0:
        close = text.find(">", start)
        if close < 0:
            return text
        if close - 1 >= start + 5 and text[close - 1] == "?":
            return text[:start] + text[close + 1 :]
        start = text.find("<?xml", close + 1)
    return text


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
    if len(value) > 40:  # the longest ISO form is 29 characters; nothing longer is read
        return False
    return bool(
        re.match(
            r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
            r"(Z|[+-]\d{2}:\d{2})?)?)?)?$",
            value,
        )
    )


def _png_itxt_xmp(data: bytes | BinaryIO) -> bytes | None:
    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    pos = 8
    while True:
        fh.seek(pos)
        header = fh.read(8)
        if len(header) < 8:
            return None
        length, kind = struct.unpack(">I4s", header)
        if kind == b"iTXt":
            # Only the keyword is read first: an iTXt chunk that is not XMP is skipped unread.
            key = fh.read(min(length, len(_XMP_KEY)))
            if key == _XMP_KEY:
                # At most a byte over the packet limit is read (or inflated): enough for
                # parse_xmp to say the packet is too large, however large the chunk is.
                return itxt_text(fh.read(min(length - len(key), MAX_PACKET + 256)))
        if kind == b"IEND":
            return None
        pos += 12 + length


_XMP_KEY = b"XML:com.adobe.xmp\x00"
# The APP1 header some agency systems (AFP, Getty) write instead of Adobe's namespace URI.
_XMP_VARIANT = b"XMP\x00"
# Segments looked at before the image data (ingest refuses files with more parts first).
_MAX_SEGMENTS = 100_000


def _jpeg_variant_xmp(data: bytes | BinaryIO) -> bytes | None:
    """The packet of an APP1 segment headed "XMP\\0", found by walking the JPEG's segment
    headers up to the image data (each segment holds at most 64 KB)."""
    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    fh.seek(0)
    if fh.read(2) != b"\xff\xd8":
        return None
    pos = 2
    for _ in range(_MAX_SEGMENTS):
        fh.seek(pos)
        header = fh.read(4)
        if len(header) < 4 or header[0] != 0xFF:
            return None
        marker = header[1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no metadata after
            return None
        length = int.from_bytes(header[2:4], "big")
        if length < 2:
            return None
        if marker == 0xE1 and length - 2 > len(_XMP_VARIANT):
            payload = fh.read(length - 2)
            if len(payload) < length - 2:  # cut short: the file ends inside the segment
                return None
            if payload.startswith(_XMP_VARIANT):
                return payload[len(_XMP_VARIANT) :]
        pos += 2 + length
    return None


def itxt_text(rest: bytes) -> bytes | None:
    """Return the text of an iTXt chunk, given what follows its keyword (inflated, bounded)."""
    if len(rest) < 2:
        return None
    compressed = rest[0] == 1
    rest = rest[2:]
    _lang, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if compressed:
        try:
            # Bounded: one byte over the limit is enough for parse_xmp to refuse it.
            text = zlib.decompressobj().decompress(text, MAX_PACKET + 1)
        except zlib.error:
            return None
    return text

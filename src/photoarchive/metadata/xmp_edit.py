"""Change a few properties of an existing XMP packet, keeping everything else in it as it was.

A packet carries far more than the record models (IPTC Extension, other languages of a
caption, regions, history, other tools' namespaces). Parsing it into a property list and
serialising that again, as XMP toolkits do, drops empty values, migrates old forms and fails
on packets they think malformed; here the XML tree is edited in place instead: only the
changed properties' elements are touched, prefixes, order and everything else are kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any
from xml.dom import minidom

from defusedxml.minidom import parseString

from photoarchive.metadata.xmp import RDF, _packet_text
from photoarchive.metadata.xmp_writer import build_xmp, xml_safe

XML_NS = "http://www.w3.org/XML/1998/namespace"
XMLNS = "http://www.w3.org/2000/xmlns/"

#: Record field -> (namespace, property, kind) where kind is text, langalt, seq or bag.
PROPERTIES: dict[str, tuple[str, str, str]] = {
    "caption": ("http://purl.org/dc/elements/1.1/", "description", "langalt"),
    "title": ("http://purl.org/dc/elements/1.1/", "title", "langalt"),
    "copyright": ("http://purl.org/dc/elements/1.1/", "rights", "langalt"),
    "byline": ("http://purl.org/dc/elements/1.1/", "creator", "seq"),
    "keywords": ("http://purl.org/dc/elements/1.1/", "subject", "bag"),
    "usage_terms": ("http://ns.adobe.com/xap/1.0/rights/", "UsageTerms", "langalt"),
    "headline": ("http://ns.adobe.com/photoshop/1.0/", "Headline", "text"),
    "credit": ("http://ns.adobe.com/photoshop/1.0/", "Credit", "text"),
    "source": ("http://ns.adobe.com/photoshop/1.0/", "Source", "text"),
    "city": ("http://ns.adobe.com/photoshop/1.0/", "City", "text"),
    "province_state": ("http://ns.adobe.com/photoshop/1.0/", "State", "text"),
    "country": ("http://ns.adobe.com/photoshop/1.0/", "Country", "text"),
    "date_created": ("http://ns.adobe.com/photoshop/1.0/", "DateCreated", "text"),
    "special_instructions": ("http://ns.adobe.com/photoshop/1.0/", "Instructions", "text"),
    "byline_title": ("http://ns.adobe.com/photoshop/1.0/", "AuthorsPosition", "text"),
    "transmission_reference": (
        "http://ns.adobe.com/photoshop/1.0/",
        "TransmissionReference",
        "text",
    ),
    "sublocation": ("http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/", "Location", "text"),
    "country_code": ("http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/", "CountryCode", "text"),
}
_PREFIXES = {
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://ns.adobe.com/xap/1.0/rights/": "xmpRights",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
}
# Room left in the packet for tools that update it in place (as Adobe's toolkit leaves).
_PADDING = 2048


class UnreadablePacket(ValueError):
    """The packet is not well-formed XML: it cannot be edited in place."""


def edit_packet(packet: bytes | None, changes: dict[str, Any]) -> bytes:
    """Return the packet with `changes` ({field: value, or None to remove}) applied.

    Without a packet, a new one holding the changes is made. UnreadablePacket when the
    packet is not XML at all.
    """
    if packet is None or not packet.strip(b"\x00 \r\n\t"):
        return build_xmp({k: v for k, v in changes.items() if v not in (None, "", [])})
    text = _packet_text(packet)
    begin = text.find("<?xpacket")
    try:
        doc = parseString(text.encode("utf-8"))
    except Exception as exc:  # expat's errors, and defusedxml's refusal of entities
        raise UnreadablePacket(f"XMP not well-formed ({type(exc).__name__})") from None
    rdf = _first(doc.documentElement, RDF, "RDF")
    if rdf is None:
        raise UnreadablePacket("XMP has no rdf:RDF")
    for name, value in changes.items():
        if name in PROPERTIES:
            _set(doc, rdf, PROPERTIES[name], value)
    body = doc.documentElement.toxml()
    head = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    if begin >= 0:
        # The packet's own header (its id attributes) is kept.
        end = text.find("?>", begin)
        head = text[begin : end + 2] if end > 0 else head
    padding = ("\n" + " " * 99) * (_PADDING // 100)
    return f'{head}\n{body}{padding}\n<?xpacket end="w"?>'.encode()


def _set(
    doc: minidom.Document, rdf: minidom.Element, spec: tuple[str, str, str], value: Any
) -> None:
    ns, local, kind = spec
    value = _safe(value)
    empty = value in (None, "", [])
    holder, element, attribute = _find(rdf, ns, local)
    if attribute is not None and holder is not None:
        # The short form (an attribute of rdf:Description) holds a simple value only.
        holder.removeAttributeNode(attribute)
        if empty:
            return
        if kind == "text":
            holder.setAttributeNS(ns, attribute.name, str(value))
            return
    if kind == "langalt":
        _set_langalt(doc, rdf, holder, element, ns, local, value)
        return
    if element is not None:
        if empty:
            _remove(element)
            return
        _clear(element)
    elif empty:
        return
    else:
        element = _new_property(doc, rdf, holder, ns, local)
    if kind == "text":
        element.appendChild(doc.createTextNode(str(value)))
        return
    items = value if isinstance(value, list) else [v.strip() for v in str(value).split(";")]
    array = doc.createElementNS(RDF, _qualified(rdf, RDF, "Seq" if kind == "seq" else "Bag"))
    for item in items:
        if item:
            li = doc.createElementNS(RDF, _qualified(rdf, RDF, "li"))
            li.appendChild(doc.createTextNode(item))
            array.appendChild(li)
    element.appendChild(array)


def _set_langalt(
    doc: minidom.Document,
    rdf: minidom.Element,
    holder: minidom.Element | None,
    element: minidom.Element | None,
    ns: str,
    local: str,
    value: Any,
) -> None:
    """Set the x-default item of a language alternative; the other languages stay."""
    alt = _first(element, RDF, "Alt") if element is not None else None
    if element is not None and alt is None:
        # A plain value where an rdf:Alt belongs: it becomes the alternative.
        _clear(element)
    if element is None:
        if value in (None, ""):
            return
        element = _new_property(doc, rdf, holder, ns, local)
    if alt is None:
        alt = doc.createElementNS(RDF, _qualified(rdf, RDF, "Alt"))
        element.appendChild(alt)
    items: list[Any] = [c for c in alt.childNodes if _is(c, RDF, "li")]
    default = next((li for li in items if _lang(li) == "x-default"), None)
    if value in (None, ""):
        if default is not None:
            _remove(default)
        if not any(_is(c, RDF, "li") for c in alt.childNodes):
            _remove(element)
        return
    if default is None:
        default = doc.createElementNS(RDF, _qualified(rdf, RDF, "li"))
        default.setAttributeNS(XML_NS, "xml:lang", "x-default")
        alt.insertBefore(default, items[0] if items else None)
    _clear(default)
    default.appendChild(doc.createTextNode(str(value)))


def _find(
    rdf: minidom.Element, ns: str, local: str
) -> tuple[minidom.Element | None, minidom.Element | None, minidom.Attr | None]:
    """Return the rdf:Description holding the property (or the first one), the property's
    element and its attribute (the short form), whichever it is written as."""
    first: minidom.Element | None = None
    for desc in rdf.childNodes:
        if not _is(desc, RDF, "Description"):
            continue
        assert isinstance(desc, minidom.Element)
        first = first or desc
        attribute = desc.getAttributeNodeNS(ns, local)
        if attribute is not None:
            return desc, None, attribute
        for child in desc.childNodes:
            if _is(child, ns, local):
                assert isinstance(child, minidom.Element)
                return desc, child, None
    return first, None, None


def _new_property(
    doc: minidom.Document,
    rdf: minidom.Element,
    holder: minidom.Element | None,
    ns: str,
    local: str,
) -> minidom.Element:
    if holder is None:
        holder = doc.createElementNS(RDF, _qualified(rdf, RDF, "Description"))
        holder.setAttributeNS(RDF, _qualified(rdf, RDF, "about"), "")
        rdf.appendChild(holder)
    prefix = _prefix_for(holder, ns)
    if prefix is None:
        prefix = _PREFIXES.get(ns, "ns")
        holder.setAttributeNS(XMLNS, f"xmlns:{prefix}", ns)
    element = doc.createElementNS(ns, f"{prefix}:{local}")
    holder.appendChild(element)
    return element


def _prefix_for(node: minidom.Element, ns: str) -> str | None:
    """Return the prefix bound to `ns` where `node` stands, or None."""
    current: Any = node
    while isinstance(current, minidom.Element):
        for attr in current.attributes.values():
            if attr.name.startswith("xmlns:") and attr.value == ns:
                return str(attr.name[6:])
        current = current.parentNode
    return None


def _qualified(rdf: minidom.Element, ns: str, local: str) -> str:
    prefix = rdf.prefix if ns == RDF and rdf.prefix else "rdf"
    return f"{prefix}:{local}"


def _first(node: Any, ns: str, local: str) -> minidom.Element | None:
    if node is None:
        return None
    if _is(node, ns, local):
        return node  # type: ignore[no-any-return]
    for child in node.childNodes:
        found = _first(child, ns, local) if child.nodeType == child.ELEMENT_NODE else None
        if found is not None:
            return found
    return None


def _is(node: Any, ns: str, local: str) -> bool:
    return bool(
        node.nodeType == node.ELEMENT_NODE and node.namespaceURI == ns and node.localName == local
    )


def _lang(node: minidom.Element) -> str:
    return node.getAttributeNS(XML_NS, "lang") or node.getAttribute("xml:lang")


def _clear(element: minidom.Element) -> None:
    while element.firstChild is not None:
        element.removeChild(element.firstChild)


def _remove(node: Any) -> None:
    if node.parentNode is not None:
        node.parentNode.removeChild(node)


def _safe(value: Any) -> Any:
    if isinstance(value, list):
        return [xml_safe(str(v)) for v in value]
    return xml_safe(value) if isinstance(value, str) else value


XMP_NOTE = "http://ns.adobe.com/xmp/note/"


def split_packet(packet: bytes, room: int) -> tuple[bytes, bytes | None]:
    """Return a packet that fits in `room` bytes and, when it does not as it is, the
    extended XMP holding its largest properties (XMP part 3: the standard packet names the
    extension by the MD5 of its serialisation in xmpNote:HasExtendedXMP)."""
    if len(packet) <= room:
        return packet, None
    text = _packet_text(packet)
    doc = parseString(text.encode("utf-8"))
    rdf = _first(doc.documentElement, RDF, "RDF")
    if rdf is None:
        raise UnreadablePacket("XMP has no rdf:RDF")
    properties = [
        (len(child.toxml().encode("utf-8")), child)
        for desc in rdf.childNodes
        if _is(desc, RDF, "Description")
        for child in desc.childNodes
        if child.nodeType == child.ELEMENT_NODE
    ]
    moved: list[minidom.Element] = []
    size = len(packet) + 120  # the HasExtendedXMP attribute and its namespace
    for length, element in sorted(properties, key=lambda p: p[0], reverse=True):
        if size <= room:
            break
        moved.append(element)
        size -= length
    if size > room:
        raise UnreadablePacket("XMP too large even with its largest properties moved out")
    extension = _extension(moved)
    guid = hashlib.md5(extension).hexdigest().upper()
    for element in moved:
        _remove(element)
    holder = next(c for c in rdf.childNodes if _is(c, RDF, "Description"))
    assert isinstance(holder, minidom.Element)
    holder.setAttributeNS(XMLNS, "xmlns:xmpNote", XMP_NOTE)
    holder.setAttributeNS(XMP_NOTE, "xmpNote:HasExtendedXMP", guid)
    body = doc.documentElement.toxml()
    head = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    return f'{head}\n{body}\n<?xpacket end="w"?>'.encode(), extension


def _extension(elements: list[minidom.Element]) -> bytes:
    """Serialise properties on their own, with the namespaces they use declared."""
    spaces: dict[str, str] = {"rdf": RDF}
    for element in elements:
        for node in _walk(element):
            if node.prefix and node.namespaceURI:
                spaces[node.prefix] = node.namespaceURI
            for attr in node.attributes.values() if node.attributes else []:
                if attr.prefix and attr.prefix not in ("xmlns", "xml") and attr.namespaceURI:
                    spaces[attr.prefix] = attr.namespaceURI
    declared = " ".join(f'xmlns:{p}="{ns}"' for p, ns in sorted(spaces.items()))
    inner = "".join(element.toxml() for element in elements)
    return (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description rdf:about="" {declared}>{inner}</rdf:Description>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def _walk(node: Any) -> Iterator[Any]:
    if node.nodeType == node.ELEMENT_NODE:
        yield node
        for child in node.childNodes:
            yield from _walk(child)

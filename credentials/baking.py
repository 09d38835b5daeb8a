"""Open Badges 3.0 baking: a credential (JSON or compact JWS) inside a PNG or an SVG.

PNG: one uncompressed ``iTXt`` chunk with keyword ``openbadgecredential``, placed before IEND.
SVG: an ``<openbadges:credential>`` element (namespace ``https://purl.imsglobal.org/ob/v3p0``)
right after the ``<svg>`` start tag: a JWS goes in its ``verify`` attribute, JSON in CDATA.

Images come from strangers, so reading is defensive: sizes and chunk counts are capped, every
PNG CRC is checked, and SVG is parsed with defusedxml (no entity expansion, no external
references). Pixels are never decoded. Baking refuses an image that already holds a credential
(the spec lets us choose between refusing and overwriting; re-baking the original image is
always possible, silently replacing a credential is not something a caller should do by accident).
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from xml.etree.ElementTree import Element
from xml.parsers import expat

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from .errors import BakingError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEYWORD = b"openbadgecredential"
OB3_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
MAX_IMAGE_BYTES = 32 * 1024 * 1024
MAX_CHUNK_BYTES = 16 * 1024 * 1024
MAX_CHUNKS = 10_000
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
_CHUNK_TYPE = re.compile(rb"^[A-Za-z]{4}$")
# Characters XML 1.0 cannot carry, even in CDATA.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# --------------------------------------------------------------------------- PNG


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes, int]]:
    """(type, data, offset) of every chunk, IHDR first and IEND last, all CRCs checked."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BakingError("PNG data must be bytes")
    data = bytes(data)
    if len(data) > MAX_IMAGE_BYTES:
        raise BakingError(f"image is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES}")
    if not data.startswith(PNG_SIGNATURE):
        raise BakingError("not a PNG file (bad signature)")
    chunks: list[tuple[bytes, bytes, int]] = []
    offset = len(PNG_SIGNATURE)
    while True:
        if len(chunks) >= MAX_CHUNKS:
            raise BakingError(f"PNG has more than {MAX_CHUNKS} chunks")
        if offset + 8 > len(data):
            raise BakingError(f"PNG truncated: chunk header at byte {offset} is incomplete")
        length, chunk_type = struct.unpack(">I4s", data[offset : offset + 8])
        if not _CHUNK_TYPE.match(chunk_type):
            raise BakingError(f"PNG chunk at byte {offset} has an invalid type {chunk_type!r}")
        name = chunk_type.decode("ascii")
        if length > MAX_CHUNK_BYTES:
            raise BakingError(
                f"PNG chunk {name} at byte {offset} declares {length} bytes; the limit is "
                f"{MAX_CHUNK_BYTES}"
            )
        end = offset + 12 + length
        if end > len(data):
            raise BakingError(f"PNG truncated: chunk {name} at byte {offset} runs past the end")
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : end])
        if zlib.crc32(chunk_type + body) != crc:
            raise BakingError(f"PNG chunk {name} at byte {offset} has a bad CRC")
        if not chunks and chunk_type != b"IHDR":
            raise BakingError("PNG does not start with an IHDR chunk")
        chunks.append((chunk_type, body, offset))
        offset = end
        if chunk_type == b"IEND":
            break
    if offset != len(data):
        raise BakingError(f"{len(data) - offset} bytes of data follow the PNG IEND chunk")
    return chunks


def _chunk(chunk_type: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + chunk_type
        + body
        + struct.pack(">I", zlib.crc32(chunk_type + body))
    )


def _parse_itxt(body: bytes) -> tuple[bytes, str] | None:
    """(keyword, text) of an iTXt chunk, or None if it is not ours."""
    keyword, sep, rest = body.partition(b"\x00")
    if not sep or keyword != PNG_KEYWORD:
        return None
    if len(rest) < 2:
        raise BakingError("openbadgecredential iTXt chunk is truncated")
    compressed, method = rest[0], rest[1]
    parts = rest[2:].split(b"\x00", 2)  # language tag, translated keyword, text
    if len(parts) != 3:
        raise BakingError("openbadgecredential iTXt chunk is malformed")
    if compressed != 0 or method != 0:
        raise BakingError("openbadgecredential iTXt chunk is compressed; OB 3.0 forbids that")
    try:
        return keyword, parts[2].decode("utf-8")
    except UnicodeDecodeError as error:
        raise BakingError(f"openbadgecredential text is not UTF-8: {error}") from error


def _payload_bytes(payload: str) -> bytes:
    if not isinstance(payload, str) or not payload.strip():
        raise BakingError("the payload must be a non-empty string (credential JSON or JWS)")
    raw = payload.encode("utf-8")
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise BakingError(f"payload is {len(raw)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    return raw


def bake_png(png: bytes, payload: str) -> bytes:
    """``png`` with an ``openbadgecredential`` iTXt chunk holding ``payload``."""
    text = _payload_bytes(payload)
    chunks = _png_chunks(png)
    for chunk_type, body, offset in chunks:
        if chunk_type == b"iTXt" and _parse_itxt(body) is not None:
            raise BakingError(f"the PNG already holds a credential (iTXt at byte {offset})")
    # keyword NUL, compression flag 0, method 0, empty language tag NUL, empty translation NUL
    itxt = _chunk(b"iTXt", PNG_KEYWORD + b"\x00\x00\x00\x00\x00" + text)
    iend_offset = chunks[-1][2]
    data = bytes(png)
    return data[:iend_offset] + itxt + data[iend_offset:]


def extract_png(data: bytes) -> str:
    """The credential text of the first ``openbadgecredential`` iTXt chunk."""
    for chunk_type, body, _ in _png_chunks(data):
        if chunk_type == b"iTXt":
            found = _parse_itxt(body)
            if found is not None:
                return found[1]
    raise BakingError("the PNG holds no openbadgecredential iTXt chunk")


# --------------------------------------------------------------------------- SVG


def _svg_text(svg: str | bytes) -> str:
    if isinstance(svg, str):
        text = svg
    elif isinstance(svg, bytes | bytearray | memoryview):
        raw = bytes(svg)
        if len(raw) > MAX_IMAGE_BYTES:
            raise BakingError(f"image is {len(raw)} bytes; the limit is {MAX_IMAGE_BYTES}")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise BakingError(f"SVG must be UTF-8: {error}") from error
    else:
        raise BakingError("SVG data must be str or bytes")
    if len(text) > MAX_IMAGE_BYTES:
        raise BakingError(f"SVG is {len(text)} characters; the limit is {MAX_IMAGE_BYTES}")
    return text.removeprefix("\ufeff")


def _parse_svg(text: str) -> Element:
    declared = re.match(r"""^\s*<\?xml[^>]*encoding=["']([^"']+)["']""", text)
    if declared and declared.group(1).lower().replace("_", "-") not in (
        "utf-8",
        "utf8",
        "us-ascii",
        "ascii",
    ):
        raise BakingError(f"SVG declares encoding {declared.group(1)!r}; only UTF-8 is supported")
    try:
        root = SafeET.fromstring(text.encode("utf-8"), forbid_dtd=False)
    except DefusedXmlException as error:
        raise BakingError(
            f"SVG refused: {error} (entity declarations and external references are not allowed)"
        ) from error
    except SafeET.ParseError as error:
        raise BakingError(f"SVG is not well-formed XML: {error}") from error
    if root.tag != "{http://www.w3.org/2000/svg}svg":
        raise BakingError(f"the root element is {root.tag!r}, not an SVG <svg> element")
    return root


def _find_credential(root: Element) -> Element | None:
    return next(root.iter(f"{{{OB3_NAMESPACE}}}credential"), None)


class _RootFound(Exception):
    def __init__(self, byte_index: int, name: str, attributes: dict[str, str]) -> None:
        self.byte_index, self.name, self.attributes = byte_index, name, attributes


def _root_start_tag(text: str) -> tuple[int, int, bool, str, dict[str, str]]:
    """(start, end, self_closing, qualified name, namespace declarations) of the root start
    tag, in characters. Only called on text that defusedxml has already accepted."""
    data = text.encode("utf-8")
    parser = expat.ParserCreate()

    def start(name: str, attributes: dict[str, str]) -> None:
        raise _RootFound(parser.CurrentByteIndex, name, attributes)

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except _RootFound as root:
        found = root
    else:
        raise BakingError("SVG has no root element")
    start_char = len(data[: found.byte_index].decode("utf-8"))
    # Find the '>' closing the start tag, skipping quoted attribute values.
    quote = ""
    index = start_char
    while index < len(text):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == ">":
            break
        index += 1
    else:
        raise BakingError("SVG root start tag is not closed")
    self_closing = text[index - 1] == "/"
    namespaces = {k: v for k, v in found.attributes.items() if k.startswith("xmlns:")}
    return start_char, index + 1, self_closing, found.name, namespaces


def _xml_escape_attribute(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml_safe_payload(payload: str) -> str:
    if not _XML_ILLEGAL.search(payload):
        return payload
    # JSON can say the same thing with \\u escapes, which XML can carry.
    try:
        return json.dumps(json.loads(payload), ensure_ascii=True)
    except ValueError as error:
        raise BakingError("payload has characters XML cannot carry and is not JSON") from error


def bake_svg(svg: str | bytes, payload: str) -> bytes:
    """UTF-8 SVG with an ``<openbadges:credential>`` holding ``payload``: a compact JWS goes in
    the ``verify`` attribute, anything else (credential JSON) in CDATA."""
    _payload_bytes(payload)
    text = _svg_text(svg)
    root = _parse_svg(text)
    if _find_credential(root) is not None:
        raise BakingError("the SVG already holds an <openbadges:credential>")
    start, end, self_closing, root_name, namespaces = _root_start_tag(text)
    bound = namespaces.get("xmlns:openbadges")
    if bound is not None and bound != OB3_NAMESPACE:
        raise BakingError(f"the SVG binds prefix 'openbadges' to {bound!r}, not {OB3_NAMESPACE}")
    payload = payload.strip()
    from .jwt import is_compact_jws  # local import: jwt pulls in JOSE, baking should not need it

    if is_compact_jws(payload):
        element = f'<openbadges:credential verify="{_xml_escape_attribute(payload)}"></openbadges:credential>'
    else:
        element = (
            f"<openbadges:credential>{_cdata(_xml_safe_payload(payload))}</openbadges:credential>"
        )
    tag = text[start:end]
    if bound is None:
        cut = len(tag) - (2 if self_closing else 1)
        tag = f'{tag[:cut].rstrip()} xmlns:openbadges="{OB3_NAMESPACE}"{tag[cut:]}'
    if self_closing:
        tag = tag[:-2].rstrip() + ">"
        baked = text[:start] + tag + element + f"</{root_name}>" + text[end:]
    else:
        baked = text[:start] + tag + element + text[end:]
    _parse_svg(baked)  # what we hand back must itself parse
    return baked.encode("utf-8")


def extract_svg(data: str | bytes) -> str:
    """The credential in the first ``<openbadges:credential>``: its ``verify`` attribute (JWS)
    or its text (JSON)."""
    element = _find_credential(_parse_svg(_svg_text(data)))
    if element is None:
        raise BakingError("the SVG holds no <openbadges:credential> element")
    verify = element.get("verify")
    payload = verify if verify is not None else (element.text or "")
    payload = payload.strip()
    if not payload:
        raise BakingError("<openbadges:credential> is empty")
    return payload

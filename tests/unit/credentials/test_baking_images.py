"""Baking credentials into PNG and SVG, extracting them, and refusing hostile images."""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from credentials import baking
from credentials.errors import BakingError

JWS = "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJkaWQ6a2V5In0.c2lnbmF0dXJl"


def _chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _chunk_types(png: bytes) -> list[bytes]:
    types, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        types.append(png[offset + 4 : offset + 8])
        offset += 12 + length
    return types


def test_png_round_trip_with_json(png: bytes, make_credential, sign) -> None:
    payload = json.dumps(sign(make_credential()), ensure_ascii=False)
    baked = baking.bake_png(png, payload)
    assert baking.extract_png(baked) == payload
    assert _chunk_types(baked) == [b"IHDR", b"IDAT", b"iTXt", b"IEND"]
    assert baked.startswith(png[: len(png) - 12])  # the original chunks are untouched
    itxt = baked[baked.index(b"iTXt") + 4 :]
    assert itxt.startswith(b"openbadgecredential\x00\x00\x00\x00\x00{")  # uncompressed, no language


def test_png_round_trip_with_jws_and_unicode(png: bytes) -> None:
    assert baking.extract_png(baking.bake_png(png, JWS)) == JWS
    text = '{"name": "טכנאי 精神 🧠 \\u0000"}'
    assert baking.extract_png(baking.bake_png(png, text)) == text


def test_png_already_baked_is_refused(png: bytes) -> None:
    baked = baking.bake_png(png, JWS)
    with pytest.raises(BakingError, match="already holds"):
        baking.bake_png(baked, JWS)


def test_png_without_credential(png: bytes) -> None:
    with pytest.raises(BakingError, match="no openbadgecredential"):
        baking.extract_png(png)


def _png_with(*chunks: bytes, signature: bytes = baking.PNG_SIGNATURE) -> bytes:
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    return signature + ihdr + b"".join(chunks) + _chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a....", "not a PNG"),
        (b"", "not a PNG"),
        (baking.PNG_SIGNATURE, "truncated"),
        (baking.PNG_SIGNATURE + b"\x00\x00\x00\x0dIHDR" + b"\x00" * 5, "truncated"),
        (_png_with(_chunk(b"tEXt", b"comment\x00hi", crc=1)), "bad CRC"),
        (_png_with(struct.pack(">I", 0x7FFFFFFF) + b"IDAT"), "declares 2147483647 bytes"),
        (_png_with(_chunk(b"t3Xt", b"x")), "invalid type"),
        (_png_with() + b"trailing", "follow the PNG IEND"),
        (baking.PNG_SIGNATURE + _chunk(b"IDAT", b"") + _chunk(b"IEND", b""), "IHDR"),
        (
            _png_with(
                _chunk(b"iTXt", b"openbadgecredential\x00\x01\x00\x00\x00" + zlib.compress(b"{}"))
            ),
            "compressed",
        ),
        (_png_with(_chunk(b"iTXt", b"openbadgecredential\x00\x00\x00\x00\x00\xff\xfe")), "UTF-8"),
        (_png_with(_chunk(b"iTXt", b"openbadgecredential\x00\x00")), "truncated"),
    ],
)
def test_hostile_pngs_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(BakingError, match=message):
        baking.extract_png(data)


def test_too_many_chunks_are_refused() -> None:
    many = _png_with(*[_chunk(b"tEXt", b"a\x00b")] * (baking.MAX_CHUNKS + 1))
    with pytest.raises(BakingError, match="more than"):
        baking.extract_png(many)


def test_oversized_inputs_are_refused_before_parsing(png: bytes) -> None:
    with pytest.raises(BakingError, match="limit"):
        baking.extract_png(png + b"\x00" * baking.MAX_IMAGE_BYTES)
    with pytest.raises(BakingError, match="limit"):
        baking.bake_png(png, "x" * (baking.MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(BakingError, match="non-empty"):
        baking.bake_png(png, "  ")


def test_svg_round_trip_with_json(svg: str, make_credential, sign) -> None:
    payload = json.dumps(sign(make_credential()), ensure_ascii=False)
    baked = baking.bake_svg(svg, payload)
    text = baked.decode("utf-8")
    assert 'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in text
    assert text.index("<openbadges:credential>") < text.index("<circle")  # right after <svg>
    assert "<![CDATA[" in text
    assert json.loads(baking.extract_svg(baked)) == json.loads(payload)


def test_svg_round_trip_with_jws(svg: str) -> None:
    baked = baking.bake_svg(svg.encode(), JWS)
    assert f'<openbadges:credential verify="{JWS}"></openbadges:credential>' in baked.decode()
    assert baking.extract_svg(baked) == JWS


def test_svg_cdata_terminator_and_xml_illegal_characters(svg: str) -> None:
    payload = json.dumps({"a": "]]> \u0001 \ufffe end"}, ensure_ascii=False)
    extracted = baking.extract_svg(baking.bake_svg(svg, payload))
    assert json.loads(extracted) == json.loads(payload)


def test_svg_edge_shapes() -> None:
    self_closing = '<svg xmlns="http://www.w3.org/2000/svg"/>'
    assert baking.extract_svg(baking.bake_svg(self_closing, JWS)) == JWS
    prefixed = '<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:g/></s:svg>'
    assert baking.extract_svg(baking.bake_svg(prefixed, JWS)) == JWS
    declared = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"'
        ' title="a &quot;&gt;&quot; b"></svg>'
    )
    baked = baking.bake_svg(declared, JWS).decode()
    assert baked.count("xmlns:openbadges") == 1
    assert baking.extract_svg(baked) == JWS
    with_doctype = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<svg xmlns="http://www.w3.org/2000/svg"/>'
    )
    assert baking.extract_svg(baking.bake_svg(with_doctype, JWS)) == JWS


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "lol">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + ']><svg xmlns="http://www.w3.org/2000/svg"><openbadges:credential '
    'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">&j;</openbadges:credential></svg>'
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<svg xmlns="http://www.w3.org/2000/svg"><openbadges:credential '
    'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">&x;</openbadges:credential></svg>'
)
PARAMETER_XXE = (
    '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'
    '<svg xmlns="http://www.w3.org/2000/svg"/>'
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "refused"),
        (XXE, "refused"),
        (PARAMETER_XXE, "refused"),
        ("<svg xmlns='http://www.w3.org/2000/svg'><g></svg>", "not well-formed"),
        ("<html xmlns='http://www.w3.org/1999/xhtml'/>", "not an SVG"),
        ("<svg/>", "not an SVG"),  # no SVG namespace
        (b"\xff\xfe<\x00s\x00v\x00g\x00", "UTF-8"),
        (
            '<?xml version="1.0" encoding="ISO-8859-1"?><svg xmlns="http://www.w3.org/2000/svg"/>',
            "only UTF-8",
        ),
        ('<svg xmlns="http://www.w3.org/2000/svg"/>', "no <openbadges:credential>"),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><openbadges:credential '
            'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"> </openbadges:credential></svg>',
            "empty",
        ),
    ],
)
def test_hostile_or_broken_svgs_are_refused(data, message: str) -> None:
    with pytest.raises(BakingError, match=message):
        baking.extract_svg(data)


def test_baking_hostile_svgs_is_refused_too() -> None:
    for hostile in (BILLION_LAUGHS, XXE, PARAMETER_XXE):
        with pytest.raises(BakingError):
            baking.bake_svg(hostile, JWS)


def test_svg_already_baked_or_prefix_taken_is_refused(svg: str) -> None:
    with pytest.raises(BakingError, match="already holds"):
        baking.bake_svg(baking.bake_svg(svg, JWS), JWS)
    clash = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="urn:other"/>'
    with pytest.raises(BakingError, match="binds prefix"):
        baking.bake_svg(clash, JWS)

"""What an uploaded file really is, told from its bytes (never from its name or declared type)."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ElementTree

from mpdp_common.errors import Problem, validation_failed

PNG = "image/png"
ICO = "image/x-icon"
SVG = "image/svg+xml"
PDF = "application/pdf"

#: per purpose: the types it takes and the largest file
PURPOSES: dict[str, tuple[frozenset[str], int]] = {
    "logo": (frozenset({PNG, SVG}), 512 * 1024),
    "favicon": (frozenset({PNG, ICO, SVG}), 256 * 1024),
    "terms_of_service": (frozenset({PDF}), 5 * 1024 * 1024),
}
#: the multipart body may be a little larger than the file it carries
MULTIPART_OVERHEAD = 16 * 1024

_SVG_DANGER = re.compile(rb"<!DOCTYPE|<!ENTITY|<script|<foreignObject|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def _png(data: bytes) -> bool:
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) < 33 or data[12:16] != b"IHDR":
        return False
    width, height = struct.unpack(">II", data[16:24])
    return 0 < width <= 8192 and 0 < height <= 8192


def _ico(data: bytes) -> bool:
    if len(data) < 6 or data[:4] != b"\x00\x00\x01\x00":
        return False
    (count,) = struct.unpack("<H", data[4:6])
    if not 0 < count <= 64 or len(data) < 6 + 16 * count:
        return False
    for index in range(count):
        size, offset = struct.unpack("<II", data[6 + 16 * index + 8 : 6 + 16 * index + 16])
        if size == 0 or offset + size > len(data):
            return False
    return True


def _svg(data: bytes) -> bool:
    if _SVG_DANGER.search(data):
        return False
    try:
        root = ElementTree.fromstring(data.decode("utf-8-sig"))
    except (ElementTree.ParseError, UnicodeDecodeError, ValueError):
        return False
    return root.tag in ("svg", "{http://www.w3.org/2000/svg}svg")


def _pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]


_SNIFFERS = ((PNG, _png), (ICO, _ico), (PDF, _pdf), (SVG, _svg))


def sniff(data: bytes) -> str | None:
    """The content type of `data`, when it is a well-formed file of a type this service takes."""
    for content_type, looks_like in _SNIFFERS:
        if looks_like(data):
            return content_type
    return None


def check_upload(purpose: str, data: bytes) -> str:
    """The sniffed content type of an upload for `purpose`, or the problem that refuses it."""
    allowed, limit = PURPOSES[purpose]
    if len(data) > limit:
        raise Problem(413, f"The file is over the limit of {limit // 1024} KiB for a {purpose.replace('_', ' ')}.")
    if not data:
        raise validation_failed({"file": ["The file is empty."]})
    content_type = sniff(data)
    if content_type not in allowed:
        names = ", ".join(sorted(name.split("/")[-1].replace("x-icon", "ico").replace("svg+xml", "svg").upper() for name in allowed))
        raise validation_failed(
            {"file": [f"The file is not a {names} file (SVG files may not hold scripts or entities)."]},
            detail="The upload is not a file of the accepted type.",
        )
    return content_type

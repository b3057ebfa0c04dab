"""Request bodies that host apps compress: gzip or deflate, inflated with a hard cap so that a
small bomb never becomes a large buffer."""

from __future__ import annotations

import zlib

from flask import request

from mpdp_common.errors import Problem

#: the most a compressed body may inflate to
MAX_INFLATED_BYTES = 10 * 1024 * 1024
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
#: as the OpenAPI document says it, for the endpoints whose bodies go through `request_body`
ENCODING_PARAMETER = {
    "in": "header",
    "name": "Content-Encoding",
    "required": False,
    "schema": {"type": "string"},
    "description": "gzip, x-gzip or deflate: the body is compressed (415 for another); none or identity: it is not",
}


def inflate(data: bytes, encoding: str, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """`data` decompressed, or 413 as soon as the output would pass `limit` (no more is inflated)."""
    try:
        return _inflate(data, _WBITS[encoding], limit)
    except zlib.error:
        if encoding != "deflate":
            raise Problem(400, f"The body is not valid {encoding} data.") from None
    try:  # some clients send raw deflate without the zlib header
        return _inflate(data, -zlib.MAX_WBITS, limit)
    except zlib.error:
        raise Problem(400, "The body is not valid deflate data.") from None


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = bytearray()
    pending = data
    while pending:
        out += inflater.decompress(pending, limit + 1 - len(out))
        if len(out) > limit:
            raise Problem(413, f"The body inflates to more than {limit} bytes.")
        pending = inflater.unconsumed_tail
    if not inflater.eof:
        raise zlib.error("truncated")
    return bytes(out)


def request_body(limit: int = MAX_INFLATED_BYTES) -> bytes:
    """The request's body, inflated if it says it is compressed (Flask caps what is read off the wire)."""
    data = request.get_data(cache=False)
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding not in _WBITS:
        raise Problem(415, f"Content-Encoding {encoding} is not accepted; send gzip, deflate or none.")
    return inflate(data, encoding, limit)

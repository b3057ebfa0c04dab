"""Envelope parsing, grouping and release health, without HTTP."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest

from mpdp_common.errors import Problem
from mpdp_telemetry import crashes
from mpdp_telemetry.bodies import inflate


def _event(*frames, value="boom", kind="ValueError", **extra):
    stack = [{"function": function, "module": module, "lineno": line, "in_app": in_app} for function, module, line, in_app in frames]
    return {"exception": {"values": [{"type": kind, "value": value, "stacktrace": {"frames": stack}}]}, **extra}


def test_envelopes_with_and_without_lengths():
    body = b"\n".join(
        [
            b'{"event_id":"abc","sent_at":"2026-11-28T10:00:00Z"}',
            b'{"type":"event","length":%d}' % len(b'{"message":"a\\nb"}'),
            b'{"message":"a\\nb"}',
            b'{"type":"attachment","length":5}',
            b"12\n45",
            b'{"type":"session"}',
            b'{"sid":"s1","status":"ok"}',
            b"",
        ]
    )
    header, items = crashes.parse_envelope(body)
    assert header["event_id"] == "abc"
    assert [(item["type"], payload) for item, payload in items] == [
        ("event", b'{"message":"a\\nb"}'),
        ("attachment", b"12\n45"),
        ("session", b'{"sid":"s1","status":"ok"}'),
    ]
    with pytest.raises(crashes.BadEnvelope):
        crashes.parse_envelope(b'{}\n{"type":"event","length":50}\n{}')
    with pytest.raises(crashes.BadEnvelope):
        crashes.parse_envelope(b"not json\n")


def test_grouping_follows_in_app_frames_not_line_numbers_or_values():
    first = _event(("main", "app", 10, True), ("checkout", "app.cart", 42, True), ("get", "dict", 1, False), value="item 1")
    moved = _event(("main", "app", 12, True), ("checkout", "app.cart", 57, True), ("get", "other", 9, False), value="item 2")
    elsewhere = _event(("main", "app", 10, True), ("pay", "app.cart", 42, True))
    assert crashes.fingerprint_of(first) == crashes.fingerprint_of(moved)
    assert crashes.fingerprint_of(first) != crashes.fingerprint_of(elsewhere)
    # No in-app frame: the exception's type and value decide.
    library = _event(("get", "dict", 1, False), value="x")
    assert crashes.fingerprint_of(library) != crashes.fingerprint_of(_event(("get", "dict", 1, False), value="y"))
    # No exception: the message.
    assert crashes.fingerprint_of({"message": "disk full"}) == crashes.fingerprint_of({"logentry": {"message": "disk full"}})


def test_a_client_fingerprint_wins_and_can_extend_the_default():
    one, other = _event(("a", "m", 1, True)), _event(("b", "m", 1, True))
    assert crashes.fingerprint_of(one | {"fingerprint": ["db-down"]}) == crashes.fingerprint_of(other | {"fingerprint": ["db-down"]})
    extended = [crashes.fingerprint_of(event | {"fingerprint": ["{{ default }}", "eu"]}) for event in (one, other)]
    assert extended[0] != extended[1] and extended[0] != crashes.fingerprint_of(one)


def test_titles_culprits_versions():
    event = _event(("main", "app", 10, True), ("checkout", "app.cart", 42, True), ("get", "dict", 1, False), kind="KeyError", value="'x'")
    assert crashes.title_and_culprit(event) == ("KeyError: 'x'", "app.cart in checkout")
    assert crashes.version_of("shop@1.2.0") == "1.2.0" and crashes.version_of(None) == crashes.UNKNOWN_VERSION
    ordered = sorted(["1.10.0", "1.2.0", "1.2.0-beta.1", "1.9.9"], key=crashes.version_key)
    assert ordered == ["1.2.0-beta.1", "1.2.0", "1.9.9", "1.10.0"]


def test_bodies_inflate_within_the_cap():
    data = json.dumps({"events": []}).encode()
    assert inflate(gzip.compress(data), "gzip") == data
    assert inflate(zlib.compress(data), "deflate") == data
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert inflate(raw.compress(data) + raw.flush(), "deflate") == data
    with pytest.raises(Problem) as refused:
        inflate(gzip.compress(b"0" * (2 * 1024 * 1024)), "gzip", limit=1024 * 1024)
    assert refused.value.status == 413
    with pytest.raises(Problem) as broken:
        inflate(gzip.compress(data)[:-10], "gzip")
    assert broken.value.status == 400

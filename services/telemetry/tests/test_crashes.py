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


def test_version_parts_are_numbers_only_when_they_are_ascii_digits():
    # '²'.isdigit() is true, and int('²') raises: such a part orders as text, before any number.
    ordered = sorted(["1.10", "1.²", "1.2", "1.٣", "1"], key=crashes.version_key)
    assert ordered[-2:] == ["1.2", "1.10"] and set(ordered[:3]) == {"1", "1.²", "1.٣"}
    assert crashes.version_key("1.²") < crashes.version_key("1.0")


def _items(*kinds: str) -> bytes:
    return b"{}\n" + b"".join(b'{"type":"%s"}\n{}\n' % kind.encode() for kind in kinds)


@pytest.mark.parametrize(
    ("kinds", "refused"),
    [
        (["event"], None),
        (["event", "event"], "at most 1 event item"),
        (["transaction", "event"], "at most 1 event item"),
        (["session"] * 60 + ["sessions"] * 40 + ["attachment"] * 100 + ["event"], None),
        (["session"] * 100 + ["sessions"], "at most 100 session items"),
        (["attachment"] * 101, "at most 100 attachment items"),
        (["client_report"] * 101, "at most 100 client_report items"),
    ],
)
def test_an_envelope_holds_one_event_100_sessions_and_100_attachments(kinds, refused):
    if refused is None:
        assert len(crashes.parse_envelope(_items(*kinds))[1]) == len(kinds)
    else:
        with pytest.raises(crashes.EnvelopeOverLimit, match=refused):
            crashes.parse_envelope(_items(*kinds))


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000 + b"\n",
        b'{}\n{"type":' + b"[" * 200_000 + b"]" * 200_000 + b"}\n{}\n",
        b'{}\n{"type":[]}\n{}\n',
        b'{}\n{"length":2}\n{}\n',
    ],
    ids=["deep envelope header", "deep item header", "type not a string", "no type"],
)
def test_envelope_headers_of_the_wrong_shape_are_bad_envelopes(body):
    with pytest.raises(crashes.BadEnvelope):
        crashes.parse_envelope(body)


def test_events_are_cut_to_sentrys_sizes():
    frames = [{"function": f"f{number}", "in_app": True, "vars": {"deep": [[[[[[[["x"]]]]]]]]}} for number in range(1000)]
    event = {
        "exception": {"values": [{"type": "E", "value": "v" * 100_000, "stacktrace": {"frames": frames}}] * 30},
        "breadcrumbs": {"values": [{"message": f"crumb {number}"} for number in range(500)]},
        "extra": {"list": [{}] * 1_000_000, "wide": {f"k{number}": number for number in range(1000)}},
        "threads": {"values": [{"id": 1, "stacktrace": {"frames": frames}}]},
    }
    cut = crashes.cut_event(event)
    exceptions = cut["exception"]["values"]
    assert len(exceptions) == crashes.MAX_EXCEPTIONS
    kept = exceptions[-1]["stacktrace"]["frames"]
    # The newest frames are kept: the last one is where it crashed.
    assert [frame["function"] for frame in kept] == [f"f{number}" for number in range(750, 1000)]
    assert len(exceptions[-1]["value"]) == crashes.MAX_TEXT
    assert [crumb["message"] for crumb in cut["breadcrumbs"]["values"]] == [f"crumb {number}" for number in range(400, 500)]
    assert len(cut["extra"]["list"]) == len(cut["extra"]["wide"]) == crashes.BAG_BREADTH
    # Data bags end 7 levels down: `vars` is one, `deep` the 2nd, the 7th list would be the 8th.
    depth, value = 0, kept[-1]["vars"]
    while isinstance(value, dict | list):
        depth, value = depth + 1, value.get("deep") if isinstance(value, dict) else (value[0] if value else None)
    assert depth == crashes.BAG_DEPTH
    assert len(json.dumps(cut)) < 1.5 * crashes.MAX_EVENT_CHARS
    assert crashes.fingerprint_of(cut) == crashes.fingerprint_of(crashes.cut_event(event))


@pytest.mark.parametrize(
    ("event", "kept"),
    [
        ({"message": "m", "exception": 5}, {"message": "m"}),
        ({"message": "m", "exception": {"values": 5}}, {"message": "m"}),
        ({"exception": {"values": [5, {"type": "E", "stacktrace": [1]}]}}, {"exception": {"values": [{"type": "E"}]}}),
        ({"exception": [{"type": "E", "stacktrace": {"frames": 7}}]}, {"exception": {"values": [{"type": "E", "stacktrace": {}}]}}),
        ({"stacktrace": [1], "logentry": "disk full"}, {"logentry": {"formatted": "disk full"}}),
        ({"logentry": 5, "breadcrumbs": "x"}, {}),
    ],
)
def test_parts_of_the_wrong_shape_are_dropped_as_sentrys_relay_drops_them(event, kept):
    cut = crashes.cut_event(event)
    assert cut == kept
    crashes.fingerprint_of(cut), crashes.title_and_culprit(cut)


def _browser_message(message: str) -> dict:
    """What `Sentry.captureMessage(message)` of @sentry/browser sends with `attachStacktrace`: the
    stack of the call, in a made-up exception marked synthetic."""
    frames = [
        {
            "filename": "https://shop.example/assets/index-4f2a.js",
            "function": "HTMLButtonElement.r",
            "lineno": 1,
            "colno": 9041,
            "in_app": True,
        },
        {"filename": "https://shop.example/assets/index-4f2a.js", "function": "captureMessage", "lineno": 1, "colno": 311, "in_app": True},
    ]
    return {
        "message": message,
        "level": "info",
        "platform": "javascript",
        "exception": {
            "values": [
                {"value": message, "stacktrace": {"frames": frames}, "mechanism": {"type": "generic", "handled": True, "synthetic": True}}
            ]
        },
    }


def test_a_message_with_a_synthetic_stack_is_grouped_by_its_message():
    paid, failed = _browser_message("payment accepted"), _browser_message("payment failed")
    assert crashes.fingerprint_of(paid) != crashes.fingerprint_of(failed)
    assert crashes.fingerprint_of(paid) == crashes.fingerprint_of(_browser_message("payment accepted"))
    assert crashes.fingerprint_of(paid) == crashes.fingerprint_of({"message": "payment accepted"})
    assert crashes.title_and_culprit(paid)[0] == "payment accepted"
    # A real exception still groups by its frames.
    real = _browser_message("x")
    del real["exception"]["values"][0]["mechanism"]["synthetic"]
    assert crashes.fingerprint_of(real) == crashes.fingerprint_of(_browser_message("y") | {"exception": real["exception"]})

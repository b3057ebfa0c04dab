"""Settings: validation, the write-only SMTP password, uploads told apart by their content."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from mpdp_workspace.uploads import ICO, PDF, PNG, SVG, sniff


def png(width: int = 1, height: int = 1, padding: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"\x00" + b"\x00\x00\x00" * width
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw * height)) + b"\x00" * padding + chunk(b"IEND", b"")
    )


def ico() -> bytes:
    image = png()
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 1, 1, 0, 0, 1, 32, len(image), 22) + image


SVG_OK = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
PDF_OK = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"

SETTINGS = {
    "logo_url": "https://cdn.acme.example/logo.png",
    "favicon_url": None,
    "service_email": {
        "sender": "noreply@acme.example",
        "smtp_host": "smtp.acme.example",
        "smtp_port": 587,
        "smtp_username": "mailer",
        "smtp_password": "s3cret-pass",
    },
    "domains": {"primary": "console.acme.example", "alternatives": ["mp.acme.example"]},
    "tester_whitelist_enabled": True,
    "about_us_url": "https://acme.example/about",
    "terms_of_service_url": None,
}


def test_sniffing_goes_by_content():
    assert sniff(png()) == PNG and sniff(ico()) == ICO and sniff(SVG_OK) == SVG and sniff(PDF_OK) == PDF
    assert sniff(b"GIF89a....") is None and sniff(b"\x89PNG\r\n\x1a\n garbage") is None and sniff(b"") is None
    assert sniff(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>') is None
    assert sniff(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>') is None
    assert sniff(b'<!DOCTYPE x [<!ENTITY a "b">]><svg/>') is None
    assert sniff(b"<html><body/></html>") is None


def test_settings_round_trip_and_the_password_is_write_only(harness):
    ws = harness.tenant("alice", bob="reviewer")
    empty = harness.call("GET", f"/api/v1/workspaces/{ws}/settings", "bob").get_json()
    assert empty["service_email"] is None and empty["tester_whitelist_enabled"] is False and empty["domains"]["alternatives"] == []

    saved = harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=SETTINGS)
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert "s3cret-pass" not in saved.get_data(as_text=True)
    assert saved.get_json()["service_email"]["smtp_password_set"] is True
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/settings", "bob").get_json()["domains"]["primary"] == "console.acme.example"

    [event] = harness.published("workspace.settings.updated")
    payload = event["payload"]
    assert "s3cret-pass" not in str(event)
    assert harness.box.decrypt(payload["service_email"]["smtp_password_encrypted"]) == "s3cret-pass"
    assert payload["tester_whitelist_enabled"] is True and payload["revision"] == 1

    # Left out, the password is kept; null clears it.
    email = {key: value for key, value in SETTINGS["service_email"].items() if key != "smtp_password"}
    harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=SETTINGS | {"service_email": email})
    second = harness.published("workspace.settings.updated")[-1]["payload"]
    assert harness.box.decrypt(second["service_email"]["smtp_password_encrypted"]) == "s3cret-pass" and second["revision"] == 2
    cleared = harness.call(
        "PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=SETTINGS | {"service_email": email | {"smtp_password": None}}
    )
    assert cleared.get_json()["service_email"]["smtp_password_set"] is False


@pytest.mark.parametrize(
    "change, field",
    [
        ({"service_email": SETTINGS["service_email"] | {"smtp_port": 70000}}, "service_email"),
        ({"service_email": SETTINGS["service_email"] | {"smtp_port": 0}}, "service_email"),
        ({"service_email": SETTINGS["service_email"] | {"sender": "not-an-email"}}, "service_email"),
        ({"service_email": SETTINGS["service_email"] | {"smtp_host": "bad host!"}}, "service_email"),
        ({"logo_url": "javascript:alert(1)"}, "logo_url"),
        ({"about_us_url": "not a url"}, "about_us_url"),
        ({"about_us_url": "http://[::1/about"}, "about_us_url"),
        ({"terms_of_service_url": "ftp://acme.example/terms.pdf"}, "terms_of_service_url"),
        ({"favicon_url": "/api/v1/workspaces/x/assets/" + "0" * 32}, "favicon_url"),
        ({"domains": {"primary": "-bad-.example", "alternatives": []}}, "domains"),
        ({"domains": {"primary": "a.example", "alternatives": ["b.example", "B.example"]}}, "domains"),
        ({"tester_whitelist_enabled": "maybe"}, "tester_whitelist_enabled"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_written(harness, change, field):
    ws = harness.tenant("alice")
    answer = harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=SETTINGS | change)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert field in answer.get_json()["errors"]
    assert harness.published("workspace.settings.updated") == []


def _upload(harness, ws, kind, data, account="alice", filename="file.png", content_type="image/png"):
    return harness.call(
        "POST",
        f"/api/v1/workspaces/{ws}/settings/{kind}",
        account,
        data={"file": (io.BytesIO(data), filename, content_type)},
        content_type="multipart/form-data",
    )


def test_uploads_are_checked_by_content_and_served_back(harness):
    ws = harness.tenant("alice", carol="developer")
    uploaded = _upload(harness, ws, "logo", png(), filename="logo.gif", content_type="image/gif")
    assert uploaded.status_code == 200, uploaded.get_data(as_text=True)
    url = uploaded.get_json()["logo_url"]
    served = harness.call("GET", url)  # public, like any website's logo
    assert served.status_code == 200 and served.data == png() and served.mimetype == PNG
    assert served.headers["X-Content-Type-Options"] == "nosniff"

    favicon = _upload(harness, ws, "favicon", ico(), filename="favicon.png")
    assert favicon.status_code == 200 and harness.call("GET", favicon.get_json()["favicon_url"]).mimetype == ICO
    terms = _upload(harness, ws, "terms-of-service", PDF_OK, filename="terms.png", content_type="image/png")
    assert terms.status_code == 200 and harness.call("GET", terms.get_json()["terms_of_service_url"]).mimetype == PDF
    # The uploaded path is a valid value when the settings are PUT again.
    again = SETTINGS | {"logo_url": url, "service_email": None}
    assert harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=again).status_code == 200
    # ...but not for another setting, nor in another workspace.
    assert harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=again | {"favicon_url": url}).status_code == 422
    other = harness.tenant("zed")
    assert harness.call("PUT", f"/api/v1/workspaces/{other}/settings", "zed", json=again).status_code == 422

    before = len(harness.published("workspace.settings.updated"))
    assert _upload(harness, ws, "logo", b"GIF89a" + b"\x00" * 100).status_code == 422
    assert _upload(harness, ws, "logo", b"<html>not an image</html>", filename="x.svg").status_code == 422
    assert _upload(harness, ws, "logo", ico()).status_code == 422  # a favicon type, not a logo type
    assert _upload(harness, ws, "terms-of-service", png()).status_code == 422
    too_big = _upload(harness, ws, "logo", png(padding=600 * 1024))
    assert too_big.status_code == 413 and too_big.headers["Content-Type"] == "application/problem+json"
    assert _upload(harness, ws, "logo", png(), account="carol").status_code == 403
    assert _upload(harness, ws, "logo", png(), account="eve").status_code == 404
    assert _upload(harness, ws, "banner", png()).status_code == 404
    no_file = harness.call("POST", f"/api/v1/workspaces/{ws}/settings/logo", "alice", data={"x": "y"}, content_type="multipart/form-data")
    assert no_file.status_code == 422
    assert harness.call("POST", f"/api/v1/workspaces/{ws}/settings/logo", "alice", json={"file": "x"}).status_code == 415
    assert len(harness.published("workspace.settings.updated")) == before


SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'


@pytest.mark.parametrize(
    "svg",
    [
        f'<svg {SVG_NS}><h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></svg>',
        '<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:script>alert(1)</s:script></s:svg>',
        f'<svg {SVG_NS} xmlns:x="http://www.w3.org/1999/xlink"><a x:href="&#106;avascript:alert(1)"><rect width="1" height="1"/></a></svg>',
        f'<svg {SVG_NS}><a href="jav&#x09;ascript:alert(1)"><text>x</text></a></svg>',
        f'<svg {SVG_NS}><foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml" srcdoc="&lt;script&gt;x&lt;/script&gt;"/>'
        "</foreignObject></svg>",
        f'<svg {SVG_NS}><h:iframe xmlns:h="http://www.w3.org/1999/xhtml" srcdoc="x"/></svg>',
        f'<svg {SVG_NS}><rect width="1" height="1" OnClick="alert(1)"/></svg>',
        f'<svg {SVG_NS}><set attributeName="onmouseover" to="alert(1)"/></svg>',
        f'<svg {SVG_NS}><animate attributeName="href" values="javascript:alert(1)"/></svg>',
        f"<svg {SVG_NS}><style>@import url(https://evil.example/x.css);</style></svg>",
        f'<svg {SVG_NS}><rect width="1" height="1" style="fill: url(https://evil.example/track)"/></svg>',
        f'<svg {SVG_NS}><image href="https://evil.example/pixel.png" width="1" height="1"/></svg>',
        f'<svg {SVG_NS}><use href="data:image/svg+xml;base64,PHN2Zy8+"/></svg>',
        '<?xml version="1.0"?><!DOCTYPE svg SYSTEM "http://evil.example/x.dtd"><svg xmlns="http://www.w3.org/2000/svg"/>',
        '<html xmlns="http://www.w3.org/1999/xhtml"><svg xmlns="http://www.w3.org/2000/svg"/></html>',
    ],
)
def test_svgs_with_anything_active_are_refused(svg):
    assert sniff(svg.encode()) is None


def test_svgs_as_drawing_tools_write_them_pass():
    inkscape = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" viewBox="0 0 24 24" inkscape:version="1.3">'
        '<title>Acme</title><defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>'
        '<g fill="url(#g)" transform="translate(1 1)"><path d="M0 0h10v10z" style="stroke:#000;stroke-width:2"/>'
        '<use xlink:href="#g"/><text x="1" y="2" font-family="Arial">Acme</text></g></svg>'
    )
    assert sniff(inkscape.encode()) == SVG
    namedview = inkscape.replace(
        "<title>", '<sodipodi:namedview xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd" pagecolor="#ffffff"/><title>'
    )
    assert sniff(namedview.encode()) == SVG


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "169.254.169.254", "10.0.0.1", "0.0.0.0", "2130706433", "0x7f000001", "127.1"])
def test_an_smtp_host_inside_the_platform_network_is_refused(harness, host):
    ws = harness.tenant("alice")
    settings = SETTINGS | {"service_email": SETTINGS["service_email"] | {"smtp_host": host}}
    answer = harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=settings)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert "smtp_host" in answer.get_json()["errors"]["service_email"]


def test_the_package_size_limit_is_kept_when_left_out_and_goes_to_the_catalog_whole(harness):
    ws = harness.tenant("alice")
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/settings", "alice").get_json()["package_size_limit_bytes"] == 8 * 1024 * 1024
    saved = harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=SETTINGS | {"package_size_limit_bytes": 1_000_000})
    assert saved.status_code == 200 and saved.get_json()["package_size_limit_bytes"] == 1_000_000
    assert harness.published("workspace.settings.updated")[-1]["payload"]["package_size_limit_bytes"] == 1_000_000
    kept = harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=SETTINGS)
    assert kept.get_json()["package_size_limit_bytes"] == 1_000_000
    default = harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=SETTINGS | {"package_size_limit_bytes": None})
    assert default.get_json()["package_size_limit_bytes"] == 8 * 1024 * 1024
    for bad in (1000, 10**12, "8MB", True):
        refused = harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=SETTINGS | {"package_size_limit_bytes": bad})
        assert refused.status_code == 422 and "package_size_limit_bytes" in refused.get_json()["errors"], bad


def test_require_mfa_is_turned_on_only_by_an_admin_signed_in_with_the_second_factor(harness):
    ws = harness.tenant("alice", bob="reviewer")
    with_otp = {"bearer": harness.token("alice", amr=["pwd", "otp"])}
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/settings", "alice").get_json()["require_mfa"] is False
    password_only = harness.call(
        "PUT", f"/api/v1/workspaces/{ws}/settings", bearer=harness.token("alice", amr=["pwd"]), json=SETTINGS | {"require_mfa": True}
    )
    assert password_only.status_code == 409
    assert password_only.get_json()["type"] == "urn:mpdp:problem:mfa-required"
    assert "two-factor" in password_only.get_json()["detail"]
    reviewer = harness.call(
        "PUT", f"/api/v1/workspaces/{ws}/settings", bearer=harness.token("bob", amr=["pwd", "otp"]), json=SETTINGS | {"require_mfa": True}
    )
    assert reviewer.status_code == 403
    assert harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", "alice", json=SETTINGS | {"require_mfa": "yes"}).status_code == 422
    on = harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", json=SETTINGS | {"require_mfa": True}, **with_otp)
    assert on.status_code == 200 and on.get_json()["require_mfa"] is True
    assert harness.published("workspace.settings.updated")[-1]["payload"]["require_mfa"] is True
    kept = harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", json=SETTINGS, **with_otp)
    assert kept.get_json()["require_mfa"] is True
    off = harness.call("PUT", f"/api/v1/workspaces/{ws}/settings", json=SETTINGS | {"require_mfa": False}, **with_otp)
    assert off.get_json()["require_mfa"] is False
    assert harness.published("workspace.settings.updated")[-1]["payload"]["require_mfa"] is False


def test_while_require_mfa_is_on_a_sign_in_without_the_second_factor_reads_only_the_workspace(harness):
    ws = harness.tenant("alice", bob="developer")
    on = harness.call(
        "PUT", f"/api/v1/workspaces/{ws}/settings", bearer=harness.token("alice", amr=["pwd", "otp"]), json=SETTINGS | {"require_mfa": True}
    )
    assert on.status_code == 200
    for account in ("alice", "bob"):
        refused = harness.call("GET", f"/api/v1/workspaces/{ws}/settings", bearer=harness.token(account, amr=["pwd"]))
        assert refused.status_code == 403, account
        assert refused.get_json()["type"] == "urn:mpdp:problem:mfa-required"
        assert harness.call("GET", f"/api/v1/workspaces/{ws}/apps", account).status_code == 403
        # the workspace itself answers, so that the console can say what it asks
        assert harness.call("GET", f"/api/v1/workspaces/{ws}", account).status_code == 200
        assert harness.call("GET", f"/api/v1/workspaces/{ws}/apps", bearer=harness.token(account, amr=["pwd", "otp"])).status_code == 200
    # a non-member still learns nothing
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/settings", "mallory").status_code == 404
    other = harness.tenant("bob")
    assert harness.call("GET", f"/api/v1/workspaces/{other}/settings", "bob").status_code == 200

"""The public OpenAPI document is merged from the services at most once a minute."""

from __future__ import annotations

from mpdp_gateway import openapi


def test_the_merged_document_is_kept_a_minute_unless_a_service_was_missing(monkeypatch):
    fetches = []

    def merged(service_urls, timeout):
        fetches.append(1)
        document = {"info": {"title": "MPDP public API"}, "paths": {}}
        if len(fetches) == 1:
            document["info"]["description"] = "Not included, service unavailable: catalog."
        return document

    monkeypatch.setattr(openapi, "merged_openapi", merged)
    clock = [1000.0]
    monkeypatch.setattr(openapi.time, "monotonic", lambda: clock[0])
    document = openapi.MergedOpenApi({}, timeout=1)

    assert "description" in document.get()["info"]  # a service was missing: not kept
    assert "description" not in document.get()["info"]
    document.get()
    clock[0] += 59
    document.get()
    assert len(fetches) == 2
    clock[0] += 2
    document.get()
    assert len(fetches) == 3

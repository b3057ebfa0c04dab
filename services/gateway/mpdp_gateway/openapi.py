"""The public OpenAPI document: the services' documents merged, limited to routed paths."""

from __future__ import annotations

import json
import logging
import threading
import time

import requests

from .routes import routed_services, service_for

log = logging.getLogger(__name__)


class MergedOpenApi:
    """The merged document, fetched from the services at most once a minute: it is public, and
    each fetch asks every service. One missing a service is not kept, so that it shows up as soon
    as the service answers again."""

    lifetime_seconds = 60.0

    def __init__(self, service_urls: dict[str, str], timeout: float):
        self.service_urls, self.timeout = service_urls, timeout
        self._document: dict | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> dict:
        with self._lock:  # one fetch at a time; the others take what it brings
            if self._document is None or time.monotonic() - self._fetched_at > self.lifetime_seconds:
                document = merged_openapi(self.service_urls, self.timeout)
                if "description" in document["info"]:  # a service was unavailable
                    return document
                self._document, self._fetched_at = document, time.monotonic()
            return self._document


def merged_openapi(service_urls: dict[str, str], timeout: float) -> dict:
    """The public document, from the documents the services serve now."""
    documents: dict[str, dict | None] = {}
    for service in routed_services():
        try:
            documents[service] = requests.get(f"{service_urls[service]}/openapi.json", timeout=timeout).json()
        except (requests.RequestException, ValueError):
            documents[service] = None
    return merge(documents)


def merge(documents: dict[str, dict | None]) -> dict:
    """The public document from each routed service's own, None for a service that did not
    answer; `scripts/openapi.py` makes docs/openapi.json with it from the code."""
    merged: dict = {
        "openapi": "3.0.3",
        "info": {"title": "MPDP public API", "version": "v1"},
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {},
        "security": [{"bearerAuth": []}],
        "tags": [],
    }
    unavailable = []
    for service in routed_services():
        document = documents.get(service)
        if document is None:
            unavailable.append(service)
            continue
        document = _rename_colliding_schemas(document, merged["components"].get("schemas", {}), service)
        merged["paths"].update({path: item for path, item in document.get("paths", {}).items() if service_for(path) == service})
        for section, entries in document.get("components", {}).items():
            merged["components"].setdefault(section, {}).update(entries)
        merged["tags"].extend(document.get("tags", []))
    if unavailable:
        merged["info"]["description"] = f"Not included, service unavailable: {', '.join(unavailable)}."
    return merged


def _rename_colliding_schemas(document: dict, known: dict, service: str) -> dict:
    """Two services may name different schemas alike; the later one's are prefixed with its name."""
    schemas = document.get("components", {}).get("schemas", {})
    clashes = [name for name, schema in schemas.items() if name in known and known[name] != schema]
    if not clashes:
        return document
    text = json.dumps(document)
    for name in clashes:
        prefixed = f"{service.capitalize()}{name}"
        text = text.replace(f'"#/components/schemas/{name}"', f'"#/components/schemas/{prefixed}"')
    renamed = json.loads(text)
    renamed_schemas = renamed["components"]["schemas"]
    for name in clashes:
        renamed_schemas[f"{service.capitalize()}{name}"] = renamed_schemas.pop(name)
    return renamed

"""Write docs/openapi.json: the public OpenAPI document as the gateway serves it at
`GET /api/v1/openapi.json`, merged the same way from every service's own document, each made here
from the code (no platform needs to run). `make openapi` runs it; the integration tests compare
the running platform's document with the file.

    .venv/bin/python scripts/openapi.py           # write docs/openapi.json
    .venv/bin/python scripts/openapi.py --check   # exit 1 if docs/openapi.json is not up to date
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def build() -> dict:
    """The merged document, from apps made with throwaway keys and data."""
    with tempfile.TemporaryDirectory() as data_dir:
        from mpdp_common.crypto import ensure_secret_key_file
        from mpdp_common.keys import ensure_signing_key

        os.environ.update(
            MPDP_MODE="embedded",
            MPDP_DATA_DIR=data_dir,
            MPDP_JWT_PRIVATE_KEY_FILE=ensure_signing_key(os.path.join(data_dir, "signing.pem")),
            MPDP_SECRET_KEY=ensure_secret_key_file(os.path.join(data_dir, "secret")),
            MPDP_LOG_LEVEL="WARNING",
        )
        from mpdp_common.config import Settings
        from mpdp_common.service import installed_services
        from mpdp_common.web import create_app
        from mpdp_gateway.openapi import merge
        from mpdp_gateway.routes import routed_services

        documents = {}
        for name in routed_services():
            app = create_app(installed_services()[name], Settings.from_env(name))
            documents[name] = app.test_client().get("/openapi.json").get_json()
    return merge(documents)


def text(document: dict) -> str:
    """As the file keeps it: indented, keys sorted, so that a change reads as a small diff."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say whether docs/openapi.json is up to date")
    args = parser.parse_args()
    wanted = text(build())
    if args.check:
        if DOCUMENT.exists() and DOCUMENT.read_text() == wanted:
            return 0
        print(f"{DOCUMENT} is not up to date: run `make openapi` and commit it.", file=sys.stderr)
        return 1
    DOCUMENT.write_text(wanted)
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

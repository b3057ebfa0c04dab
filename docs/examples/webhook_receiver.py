"""A webhook receiver for MPDP that checks every delivery's signature, standard library only.

    MPDP_WEBHOOK_SECRET=whsec_... python docs/examples/webhook_receiver.py 8000

Register http(s)://<this host>:8000/ as a webhook (over https in production, behind your proxy).
A delivery may come more than once (a retry, a redeliver): `X-MPDP-Delivery` is its id, the
same each time, so a receiver that acts on one remembers the ids it has handled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: the largest body a delivery has; anything longer is not from MPDP
MAX_BODY = 1024 * 1024


def verified(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether `signature` (the X-MPDP-Signature-256 header) is the HMAC-SHA256 of the raw body
    under the webhook's secret; compared in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return signature is not None and hmac.compare_digest(signature, expected)


class Receiver(BaseHTTPRequestHandler):
    secret = os.environ.get("MPDP_WEBHOOK_SECRET", "")
    handled: set[str] = set()

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length)  # the raw bytes: the signature is over them, not over parsed JSON
        if not verified(self.secret, body, self.headers.get("X-MPDP-Signature-256")):
            self.send_error(401, "bad signature")
            return
        delivery = json.loads(body)
        if delivery["id"] not in self.handled:
            self.handled.add(delivery["id"])
            print(f"{delivery['event']} v{delivery['version']} in {delivery['workspace_id']}: {json.dumps(delivery['data'])}")
        # Answer within 10 s, before any slow work: anything but a 2xx is retried.
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    if not Receiver.secret:
        sys.exit("set MPDP_WEBHOOK_SECRET to the secret shown when the webhook was created")
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    print(f"receiving MPDP webhooks on port {port}")
    ThreadingHTTPServer(("0.0.0.0", port), Receiver).serve_forever()

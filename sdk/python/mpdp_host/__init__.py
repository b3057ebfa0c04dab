"""mpdp-host: the MPDP host integration kit for Python host backends and tools.

from mpdp_host import HostClient
client = HostClient("https://mpdp.example.com", key_id, secret, host_version="8.2.0")
for item in client.miniprograms(user_id="ada"):
    path = client.download(item)  # resumed with Range, verified against its sha256
"""

from .analytics import EVENT_TYPES, Analytics, Session, Stats
from .client import Deliverable, HostClient
from .errors import (
    APIError,
    AuthenticationError,
    MPDPError,
    NetworkError,
    NotFoundError,
    PackageIntegrityError,
    RateLimitedError,
    ValidationError,
)
from .retry import Backoff
from .signing import signature, signed_headers

__all__ = [
    "EVENT_TYPES",
    "APIError",
    "Analytics",
    "AuthenticationError",
    "Backoff",
    "Deliverable",
    "HostClient",
    "MPDPError",
    "NetworkError",
    "NotFoundError",
    "PackageIntegrityError",
    "RateLimitedError",
    "Session",
    "Stats",
    "ValidationError",
    "signature",
    "signed_headers",
]

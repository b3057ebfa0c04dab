"""Every error the kit raises: one base class, each kind its own type, each readable as it is."""

from __future__ import annotations

from typing import Any


class MPDPError(Exception):
    """Anything the kit could not do."""


class NetworkError(MPDPError):
    """The platform could not be reached, or the connection broke (after the retries allowed)."""


class APIError(MPDPError):
    """The platform answered with an error: its status and problem document (RFC 9457)."""

    def __init__(self, status: int, title: str, detail: str = "", problem: dict[str, Any] | None = None):
        self.status, self.title, self.detail = status, title, detail
        self.problem: dict[str, Any] = problem or {}
        self.errors: dict[str, list[str]] = self.problem.get("errors") or {}
        text = f"{status} {title}" + (f": {detail}" if detail else "")
        if self.errors:
            text += " (" + "; ".join(f"{field}: {' '.join(messages)}" for field, messages in self.errors.items()) + ")"
        super().__init__(text)


class AuthenticationError(APIError):
    """401: the key is unknown or revoked, the signature is wrong, or this machine's clock is more
    than 5 minutes off."""


class NotFoundError(APIError):
    """404: not delivered to this app (any more)."""


class ValidationError(APIError):
    """422: a field the platform refused; `errors` says which and why."""


class RateLimitedError(APIError):
    """429 after the retries allowed; `retry_after` is the seconds the platform asked to wait."""

    def __init__(self, status: int, title: str, detail: str = "", problem: dict[str, Any] | None = None, retry_after: float = 1.0):
        super().__init__(status, title, detail, problem)
        self.retry_after = retry_after


class PackageIntegrityError(MPDPError):
    """A downloaded package whose sha256 is not the one delivery announced: it was deleted and is
    never used."""

    def __init__(self, miniprogram_id: str, version: str, expected: str, actual: str):
        self.miniprogram_id, self.version, self.expected, self.actual = miniprogram_id, version, expected, actual
        super().__init__(f"package {miniprogram_id}@{version}: sha256 {actual} is not the announced {expected}; the file was discarded")


TITLES = {401: "Unauthorized", 404: "Not Found", 416: "Range Not Satisfiable", 422: "Unprocessable Content", 429: "Too Many Requests"}


def error_for(status: int, body: Any, retry_after: float | None = None) -> APIError:
    """The typed error for an answer of `status` whose body is `body` (a problem document or not)."""
    problem = body if isinstance(body, dict) else {}
    title = str(problem.get("title") or TITLES.get(status, "HTTP error"))
    detail = str(problem.get("detail") or "")
    if status == 429:
        return RateLimitedError(status, title, detail, problem, retry_after=retry_after or 1.0)
    kind = {401: AuthenticationError, 404: NotFoundError, 422: ValidationError}.get(status, APIError)
    return kind(status, title, detail, problem)

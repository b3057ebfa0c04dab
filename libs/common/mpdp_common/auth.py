"""Who is calling, and what they may do in a workspace.

Access tokens are JWTs signed by the identity service (EdDSA) and verified here against its
JWKS, fetched once and cached. Authorization reads the service's own membership read model: no
call to another service per request, except to confirm a membership that the read model has not
heard of yet (a workspace created a moment ago; see `_confirmed_membership`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import jwt
import requests
from flask import current_app, g, request
from sqlalchemy import select

from .apikeys import is_api_key
from .contracts import Actor
from .crypto import digest
from .errors import Problem
from .events.actors import current_actor
from .request_db import db_session

log = logging.getLogger(__name__)

ALGORITHMS = ["EdDSA"]


@dataclass(frozen=True)
class Caller:
    """A signed-in account, or a workspace API key, which acts for the account that created it
    (`account_id`) with the key's role, in the key's workspace only (see mpdp_common.apikeys)."""

    account_id: str
    token_id: str | None = None
    api_key_workspace: str | None = None
    api_key_role: str | None = None
    #: the access token's `email_verified` claim (tokens from before the claim, and keys, count as verified)
    email_verified: bool = True
    #: the sign-in (refresh chain) the access token came from, its `sid` claim
    session_id: str | None = None
    #: how that sign-in was authenticated, its `amr` claim: ("pwd",) or ("pwd", "otp")
    amr: tuple[str, ...] = ()

    @property
    def second_factor(self) -> bool:
        """Whether the token was obtained with a second factor (TOTP) besides the password."""
        return "otp" in self.amr

    @property
    def is_api_key(self) -> bool:
        return self.api_key_workspace is not None

    @property
    def actor(self) -> Actor:
        """Who the events of this caller's request name: the account, or the key with the account it acts for."""
        if self.is_api_key and self.token_id is not None:
            return Actor.api_key(self.token_id, self.account_id)
        return Actor.account(self.account_id)

    @property
    def credential(self) -> str:
        """The account, or the API key used for it: what tells callers' retries apart."""
        return f"api-key:{self.token_id}" if self.is_api_key else self.account_id


class Membership(Protocol):
    """What authorization reads of a member: a row of the membership read model, or an API key's."""

    @property
    def workspace_id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def status(self) -> str: ...


@dataclass(frozen=True)
class Grant:
    """A membership that is not a row of the read model: an API key's, or one confirmed by the
    workspace service before the read model heard of it."""

    workspace_id: str
    account_id: str
    role: str
    status: str = "active"


class _ThrottledJWKClient(jwt.PyJWKClient):
    """PyJWKClient refetches the key set for every token naming an unknown key id; a flood of
    such tokens would turn every service into a load on identity. Refetch at most every 30 s."""

    REFRESH_INTERVAL = 30.0

    def __init__(self, uri: str, *, cache_keys: bool, lifespan: float, timeout: float) -> None:
        super().__init__(uri, cache_keys=cache_keys, lifespan=lifespan, timeout=timeout)
        self._lock = threading.Lock()
        self._last_refresh = float("-inf")

    def get_signing_key(self, kid: str) -> jwt.PyJWK:
        key = self.match_kid(self.get_signing_keys(), kid)
        if key is None:
            with self._lock:
                if time.monotonic() - self._last_refresh >= self.REFRESH_INTERVAL:
                    self._last_refresh = time.monotonic()
                    key = self.match_kid(self.get_signing_keys(refresh=True), kid)
        if key is None:
            raise jwt.PyJWKClientError(f"no signing key with id {kid!r}")
        return key


class TokenVerifier:
    """Verifies access tokens; `key_for` maps a token to its public key (JWKS, or identity's own keys).

    A token that verified is remembered, under its digest and never as itself, until it expires:
    its signature is checked once per process rather than on every request. A signing key taken
    out of the JWKS stops new tokens at once, and those already seen at their expiry.
    """

    #: Tokens remembered at most; beyond it, the expired ones are forgotten first, then all.
    CAPACITY = 50_000

    def __init__(self, *, audience: str, issuer: str, jwks_url: str = "", key_for: Callable[[str], Any] | None = None):
        self.audience = audience
        self.issuer = issuer
        if key_for is None:
            client = _ThrottledJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=3)
            key_for = lambda token: client.get_signing_key_from_jwt(token).key  # noqa: E731
        self._key_for = key_for
        self._verified: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> dict[str, Any]:
        key = digest(token)
        now = time.time()
        claims = self._verified.get(key)
        if claims is not None and claims["exp"] > now:
            return claims
        claims = self._check(token)
        with self._lock:
            if len(self._verified) >= self.CAPACITY:
                self._verified = {known: seen for known, seen in self._verified.items() if seen["exp"] > now}
                if len(self._verified) >= self.CAPACITY:
                    self._verified.clear()
            self._verified[key] = claims
        return claims

    def _check(self, token: str) -> dict[str, Any]:
        try:
            key = self._key_for(token)
            return jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.PyJWKClientConnectionError as error:
            log.error("cannot fetch signing keys: %s", error)
            raise Problem(503, "The identity service's signing keys cannot be fetched; try again shortly.") from None
        except jwt.ExpiredSignatureError:
            raise unauthorized("The access token has expired.") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise unauthorized("The access token is not valid.") from None


def unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="mpdp"'})


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


#: Endpoints that other code registers and that must stay open (the OpenAPI document).
PUBLIC_ENDPOINTS = {"api-docs.openapi_json", "static"}


def public(view: Callable) -> Callable:
    """Mark an endpoint as open to anonymous callers; every other endpoint needs a token. Its
    OpenAPI operation says so too: no security requirement, unless it names the key it takes
    (`@blueprint.doc(security=openapi.APP_KEY)`)."""
    view._mpdp_public = True  # type: ignore[attr-defined]
    return view


def authenticate_request() -> None:
    """before_request: establish `g.caller` or answer 401."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "_mpdp_public", False) or request.endpoint in PUBLIC_ENDPOINTS:
        return
    token = bearer_token()
    if token is None:
        raise unauthorized("Sign in: this endpoint needs an access token.")
    if is_api_key(token):
        g.caller = _api_key_caller(token)
    else:
        claims = current_app.extensions["mpdp"].verifier.verify(token)
        g.caller = Caller(
            account_id=claims["sub"],
            token_id=claims.get("jti"),
            email_verified=claims.get("email_verified", True) is not False,
            session_id=claims.get("sid"),
            amr=tuple(str(method) for method in claims.get("amr") or ()),
        )
    # The request's events name the caller (reset with the request, mpdp_common.web).
    current_actor.set(g.caller.actor)


def _api_key_caller(token: str) -> Caller:
    model = current_app.extensions["mpdp"].service.api_key_model
    key = None
    if model is not None:
        key = db_session().scalar(select(model).where(model.token_hash == digest(token)))
    if key is None or key.revoked_at is not None:
        raise unauthorized("The API key is not valid or has been revoked.")
    if key.created_by is None:
        # A key that acted for nobody would let its creator approve their own requests with it.
        raise unauthorized("The API key's creator is not known here yet; the operator runs `mpdpctl announce workspace`.")
    return Caller(account_id=key.created_by, token_id=key.id, api_key_workspace=key.workspace_id, api_key_role=key.role)


def current_caller() -> Caller:
    caller = g.get("caller")
    if caller is None:
        raise unauthorized("Sign in: this endpoint needs an access token.")
    return caller


EMAIL_UNVERIFIED = "urn:mpdp:problem:email-unverified"


def email_unverified() -> Problem:
    return Problem(
        403,
        "Confirm your email first: follow the link in the mail sent at sign-up (or ask for another).",
        title="Email not verified",
        type=EMAIL_UNVERIFIED,
    )


def require_verified_email() -> Caller:
    """The caller, or 403 `email-unverified` for an account whose email is not confirmed yet."""
    caller = current_caller()
    if not caller.email_verified:
        raise email_unverified()
    return caller


MFA_REQUIRED = "urn:mpdp:problem:mfa-required"


def mfa_required(detail: str | None = None, status: int = 403) -> Problem:
    return Problem(
        status,
        detail
        or "This workspace requires two-factor sign-in: turn it on (Security, in the console) and sign in again with the app's code.",
        title="Two-factor sign-in required",
        type=MFA_REQUIRED,
    )


def workspace_requires_mfa(workspace_id: str) -> bool:
    """Whether the workspace's settings say `require_mfa`, as this service's read model has them."""
    model = current_app.extensions["mpdp"].service.workspace_policy_model
    if model is None:
        return False
    policy = db_session().get(model, workspace_id)
    return bool(policy is not None and policy.require_mfa)


def require_member(workspace_id: str, *roles: str, without_mfa: bool = False) -> Membership:
    """The caller's membership in the workspace, or the right problem.

    Non-members get 404 (a workspace's existence is not revealed), blocked members 403, and
    members whose role is not among `roles` 403. In a workspace that requires two-factor sign-in,
    a member whose access token was obtained without the second factor gets 403 `mfa-required`
    (a token has it only when the account has TOTP on), except where `without_mfa` says that
    the endpoint answers anyway (the workspace itself and its members list). A workspace API key
    is not a sign-in: it keeps working, and only admins who passed this check make new ones.
    """
    caller = current_caller()
    model = current_app.extensions["mpdp"].service.membership_model
    if caller.is_api_key:
        member: Membership | None = None
        if caller.api_key_workspace == workspace_id and caller.api_key_role is not None:
            # The key acts for its creator, so it holds while their own membership holds: blocked,
            # it is blocked; removed, it is gone. A creator not heard of here yet leaves a new key its grant.
            creator = db_session().get(model, (workspace_id, caller.account_id))
            member = Grant(workspace_id, caller.account_id, caller.api_key_role, creator.status if creator else "active")
    else:
        member = db_session().get(model, (workspace_id, caller.account_id)) or _confirmed_membership(workspace_id)
    if member is None or member.status == "removed":
        raise Problem(404, "No such workspace.")
    if member.status == "blocked":
        raise Problem(403, "Your membership in this workspace is blocked.")
    if not (without_mfa or caller.is_api_key or caller.second_factor) and workspace_requires_mfa(workspace_id):
        raise mfa_required()
    if roles and member.role not in roles:
        raise Problem(403, f"This needs the role {' or '.join(roles)}; yours is {member.role}.")
    return member


#: how long a membership unknown here waits for the workspace service's answer
CONFIRM_TIMEOUT = 3.0
#: straight to the workspace service, never through a proxy named by the environment: the request carries the caller's token
_direct = requests.Session()
_direct.trust_env = False


def _confirmed_membership(workspace_id: str) -> Grant | None:
    """The caller's membership as the workspace service answers the caller, for a membership this
    service's read model has not heard of; None when it has none either.

    A workspace's creator is its admin as soon as `POST /workspaces` answers, but the other
    services learn it from events a moment later (`workspace.workspace.created`, then identity's
    `identity.member.added`). What a client has just created it uses in its next request, so a
    miss here is asked, once, of the service that created the workspace and knew its admin in
    the same transaction. This is a synchronous call between services, on a miss only: a member
    already known costs nothing, and an unknown workspace answers 404 there as fast as here. It
    is asked with the caller's own token, so the answer is what the caller may read anyway.
    """
    service = current_app.extensions["mpdp"].service
    if service.name == "workspace":
        return None
    settings = current_app.extensions["mpdp"].settings
    url = f"{settings.service_urls['workspace']}/api/v1/workspaces/{quote(workspace_id, safe='')}"
    headers = {"Authorization": request.headers["Authorization"], "Accept": "application/json"}
    try:
        answer = _direct.get(url, headers=headers, timeout=CONFIRM_TIMEOUT, allow_redirects=False)
        if answer.status_code != 200:
            return None  # not a member there either (404), or blocked (403): this service's answer stands
        body = answer.json()
    except (requests.RequestException, ValueError) as error:
        log.warning("cannot confirm a membership in workspace %s with the workspace service: %s", workspace_id, error)
        return None
    role = body.get("role") if isinstance(body, dict) else None
    if role not in ("admin", "reviewer", "developer"):
        return None
    return Grant(workspace_id, current_caller().account_id, role)

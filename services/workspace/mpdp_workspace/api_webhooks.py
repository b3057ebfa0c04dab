"""Webhooks, managed by a workspace's admins: their URLs and events, a secret shown once, every
delivery with its attempts, redeliver and ping (see webhooks.py for how they are sent)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import func, select

from mpdp_common.crypto import secret_box
from mpdp_common.db import new_id, utcnow
from mpdp_common.errors import conflict, not_found, validation_failed
from mpdp_common.idempotency import idempotent
from mpdp_common.pagination import PageQuery, page_schema, paginate
from mpdp_common.request_db import db_session
from mpdp_common.web import current_settings

from . import schemas, webhooks
from .access import active_workspace, admin_of_active_workspace
from .events import events
from .models import Webhook, WebhookAttempt, WebhookDelivery

webhooks_api = Blueprint("webhooks", __name__, url_prefix="/api/v1", description="Signed webhooks for a workspace's events")

#: a workspace's webhooks at most
MAX_WEBHOOKS = 20


def _publish(event_type: str, webhook: Webhook, changed: list[str] | None = None) -> None:
    events.publish(
        db_session(),
        event_type,
        {
            "webhook_id": webhook.id,
            "workspace_id": webhook.workspace_id,
            "host": webhooks.target_of(webhook.url).host,
            "events": list(webhook.events),
            "active": webhook.active,
            "changed": changed or [],
        },
        workspace_id=webhook.workspace_id,
        aggregate_id=webhook.id,
    )


def refuse_internal(url: str) -> None:
    """422 for a URL inside the platform's network (unless the operator allows its host); one whose
    host does not resolve yet is taken, and judged again before every attempt."""
    try:
        webhooks.checked_address(webhooks.target_of(url), current_settings())
    except webhooks.UnresolvedHost:
        pass
    except webhooks.RefusedUrl as error:
        raise validation_failed({"url": [f"Not a public address: {error}"]}) from None


def _webhook(ws: str, webhook_id: str, *, for_update: bool = False) -> Webhook:
    webhook = db_session().get(Webhook, webhook_id, with_for_update=for_update)
    if webhook is None or webhook.workspace_id != ws:
        raise not_found("webhook")
    return webhook


@webhooks_api.route("/workspaces/<ws>/webhooks", methods=["POST"])
@idempotent(authorize=admin_of_active_workspace)
@webhooks_api.arguments(schemas.WebhookCreateSchema)
@webhooks_api.response(201, schemas.WebhookCreatedSchema)
def create_webhook(body: dict[str, Any], ws: str) -> dict[str, Any]:
    """Register a webhook

    By an admin. Its secret is answered here once; every delivery is signed with it."""
    _, member = active_workspace(ws, "admin")
    refuse_internal(body["url"])
    session = db_session()
    if (session.scalar(select(func.count()).select_from(Webhook).where(Webhook.workspace_id == ws)) or 0) >= MAX_WEBHOOKS:
        raise conflict(f"A workspace has {MAX_WEBHOOKS} webhooks at most; delete one first.")
    secret = webhooks.new_secret()
    webhook = Webhook(
        id=new_id(),
        workspace_id=ws,
        url=body["url"],
        events=body["events"],
        description=body["description"],
        secret_encrypted=secret_box(current_settings()).encrypt(secret),
        active=True,
        created_by=member.account_id,
        created_at=utcnow(),
    )
    session.add(webhook)
    session.flush()
    _publish("workspace.webhook.created", webhook)
    session.commit()
    return {name: getattr(webhook, name) for name in schemas.WebhookSchema().fields} | {"secret": secret}


@webhooks_api.route("/workspaces/<ws>/webhooks", methods=["GET"])
@webhooks_api.arguments(PageQuery, location="query")
@webhooks_api.response(200, page_schema(schemas.WebhookSchema))
def list_webhooks(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List the workspace's webhooks, without their secrets"""
    active_workspace(ws, "admin")
    return paginate(db_session(), select(Webhook).where(Webhook.workspace_id == ws), query, Webhook.created_at, Webhook.id)


@webhooks_api.route("/workspaces/<ws>/webhooks/<webhook_id>", methods=["GET"])
@webhooks_api.response(200, schemas.WebhookSchema)
def get_webhook(ws: str, webhook_id: str) -> Webhook:
    """One webhook, without its secret"""
    active_workspace(ws, "admin")
    return _webhook(ws, webhook_id)


@webhooks_api.route("/workspaces/<ws>/webhooks/<webhook_id>", methods=["PATCH"])
@webhooks_api.arguments(schemas.WebhookPatchSchema)
@webhooks_api.response(200, schemas.WebhookSchema)
def update_webhook(body: dict[str, Any], ws: str, webhook_id: str) -> Webhook:
    """Change a webhook's URL, events, description, or pause it (`active: false`)

    By an admin. A paused webhook queues nothing; what it had queued waits until it is active again."""
    active_workspace(ws, "admin")
    webhook = _webhook(ws, webhook_id, for_update=True)
    if "url" in body:
        refuse_internal(body["url"])
    changed = [name for name, value in body.items() if getattr(webhook, name) != value]
    for name in changed:
        setattr(webhook, name, body[name])
    if changed:
        webhook.updated_at = utcnow()
        _publish("workspace.webhook.updated", webhook, changed)
        db_session().commit()
    return webhook


@webhooks_api.route("/workspaces/<ws>/webhooks/<webhook_id>", methods=["DELETE"])
@webhooks_api.response(204)
def delete_webhook(ws: str, webhook_id: str) -> None:
    """Delete a webhook, its deliveries with it

    By an admin."""
    active_workspace(ws, "admin")
    webhook = _webhook(ws, webhook_id, for_update=True)
    _publish("workspace.webhook.deleted", webhook)
    db_session().delete(webhook)
    db_session().commit()


@webhooks_api.route("/workspaces/<ws>/webhooks/<webhook_id>/ping", methods=["POST"])
@webhooks_api.response(202, schemas.WebhookDeliverySchema)
def ping_webhook(ws: str, webhook_id: str) -> dict[str, Any]:
    """Send a `ping` delivery, whatever the webhook's events

    By an admin; answers the queued delivery, whose attempts its list shows."""
    _, member = active_workspace(ws, "admin")
    session = db_session()
    webhook = _webhook(ws, webhook_id)
    delivery_id = webhooks.ping(session, webhook, member.account_id)
    session.commit()
    delivery = session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    return _delivery_view(delivery, [])


def _delivery_view(delivery: WebhookDelivery, history: list[WebhookAttempt]) -> dict[str, Any]:
    return {name: getattr(delivery, name) for name in schemas.WebhookDeliverySchema().fields if name != "history"} | {"history": history}


@webhooks_api.route("/workspaces/<ws>/webhooks/<webhook_id>/deliveries", methods=["GET"])
@webhooks_api.arguments(PageQuery, location="query")
@webhooks_api.response(200, page_schema(schemas.WebhookDeliverySchema))
def list_deliveries(query: dict[str, Any], ws: str, webhook_id: str) -> dict[str, Any]:
    """List a webhook's deliveries, newest first, each with every attempt"""
    active_workspace(ws, "admin")
    session = db_session()
    webhook = _webhook(ws, webhook_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
    page = paginate(session, stmt, query, WebhookDelivery.created_at, WebhookDelivery.id, descending=True)
    ids = [delivery.id for delivery in page["items"]]
    history: dict[str, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in ids}
    if ids:
        attempts = session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)).order_by(WebhookAttempt.at))
        for attempt in attempts:
            history[attempt.delivery_id].append(attempt)
    return page | {"items": [_delivery_view(delivery, history[delivery.id]) for delivery in page["items"]]}


@webhooks_api.route("/workspaces/<ws>/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver", methods=["POST"])
@webhooks_api.response(202, schemas.WebhookDeliverySchema)
def redeliver(ws: str, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    """Send a delivery again: the same id and body, signed alike, with its retries anew

    By an admin."""
    active_workspace(ws, "admin")
    session = db_session()
    webhook = _webhook(ws, webhook_id)
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.webhook_id != webhook.id:
        raise not_found("delivery")
    webhooks.redeliver(session, delivery)
    session.commit()
    history = list(session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id).order_by(WebhookAttempt.at)))
    return _delivery_view(delivery, history)

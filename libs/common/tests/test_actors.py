"""Who caused an event, and its trace: the envelope's `actor` and `traceparent`, filled from the
context that publishes it (a request by an account or an API key, a handler, a worker)."""

from __future__ import annotations

import json
import threading

import pytest
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import insert
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from mpdp_common.apikeys import ApiKeyColumns, new_api_key
from mpdp_common.contracts import Actor, Payload, declare
from mpdp_common.db import make_engine, session_scope
from mpdp_common.events import Event, EventSpec
from mpdp_common.events.actors import acting, incoming_traceparent, new_traceparent, valid_traceparent
from mpdp_common.membership import MembershipColumns, follow_members
from mpdp_common.request_db import db_session
from mpdp_common.service import Service
from mpdp_common.testing import Harness


class Base(DeclarativeBase):
    pass


class Member(MembershipColumns, Base):
    __tablename__ = "members"


class ApiKey(ApiKeyColumns, Base):
    __tablename__ = "api_keys"


@declare("gamma.thing.made")
class ThingMade(Payload):
    name = fields.String()


@declare("delta.order.placed")
class OrderPlaced(Payload):
    order_id = fields.String()


events = EventSpec("gamma", Base.metadata)
follow_members(events, Member)


@events.handles("delta.order.placed")
def make_a_thing_for_the_order(session, event: Event) -> None:
    events.publish(session, "gamma.thing.made", {"name": f"for {event.payload['order_id']}"}, workspace_id=event.workspace_id)


blueprint = Blueprint("things", __name__, url_prefix="/api/v1")


@blueprint.route("/things", methods=["POST"])
@blueprint.response(204)
def make() -> None:
    session = db_session()
    events.publish(session, "gamma.thing.made", {"name": "by request"}, workspace_id="w1")
    session.commit()


def sweep(settings, stop: threading.Event) -> None:
    """A worker of the service's own: publishes one event, as a rollout step does."""
    engine = make_engine(settings.database_url)
    with session_scope(sessionmaker(engine)) as session:
        events.publish(session, "gamma.thing.made", {"name": "swept"})
    engine.dispose()


SERVICE = Service(
    name="gamma",
    package="mpdp_common",
    blueprints=[blueprint],
    metadata=Base.metadata,
    events=events,
    membership_model=Member,
    api_key_model=ApiKey,
    workers={"sweeper": sweep},
)


@pytest.fixture
def harness(tmp_path):
    harness = Harness(SERVICE, tmp_path)
    yield harness
    harness.close()


def test_a_request_by_an_account_names_the_account_and_carries_the_requests_trace(harness):
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert harness.call("POST", "/api/v1/things", "ada", headers={"traceparent": trace}).status_code == 204
    assert harness.call("POST", "/api/v1/things", "bob", headers={"traceparent": "not-a-trace"}).status_code == 204
    assert harness.call("POST", "/api/v1/things", "bob").status_code == 204
    by_ada, by_bob, again = harness.published("gamma.thing.made")
    assert by_ada["actor"] == {"kind": "account", "id": "ada"}
    assert by_ada["traceparent"] == trace
    assert by_bob["actor"] == {"kind": "account", "id": "bob"}
    # An invalid header starts a trace of the request's own; each request has its own.
    assert valid_traceparent(by_bob["traceparent"]) and valid_traceparent(again["traceparent"])
    assert by_bob["traceparent"] != again["traceparent"]
    assert by_bob["correlation_id"] and by_bob["correlation_id"] != again["correlation_id"]


def test_a_request_with_an_api_key_names_the_key_on_behalf_of_its_creator(harness):
    token, token_hash = new_api_key()
    harness.member("w1", "ada", "admin")
    with session_scope(harness.sessions) as session:
        session.execute(insert(ApiKey).values(id="k1", workspace_id="w1", role="developer", token_hash=token_hash, created_by="ada"))
    assert harness.call("POST", "/api/v1/things", bearer=token).status_code == 204
    (made,) = harness.published("gamma.thing.made")
    assert made["actor"] == {"kind": "api_key", "id": "k1", "on_behalf_of": "ada"}
    assert Event.from_json(json.dumps(made)).actor == Actor.api_key("k1", "ada")


def test_what_a_handler_publishes_carries_the_handled_events_actor_and_trace(harness):
    trace = new_traceparent()
    actor = {"kind": "api_key", "id": "k9", "on_behalf_of": "ada"}
    harness.deliver(
        "delta.order.placed",
        {"order_id": "o1"},
        "w1",
        actor=Actor.from_dict(actor),
        traceparent=trace,
        correlation_id="req-1",
    )
    (made,) = harness.published("gamma.thing.made")
    assert made["actor"] == actor and made["traceparent"] == trace and made["correlation_id"] == "req-1"


def test_an_event_from_before_actors_is_handled_and_what_follows_names_nobody(harness):
    old = json.dumps({"id": "e1", "type": "delta.order.placed", "producer": "delta", "payload": {"order_id": "o2"}, "version": 1})
    event = Event.from_json(old)
    assert event.actor is None and event.traceparent is None
    harness.deliver("delta.order.placed", {"order_id": "o2"}, "w1")
    (made,) = harness.published("gamma.thing.made")
    assert made["actor"] is None
    assert valid_traceparent(made["traceparent"])


def test_what_a_worker_publishes_is_the_systems_doing(harness):
    SERVICE.run_worker("sweeper", harness.settings, threading.Event())
    SERVICE.jobs["sweeper"](harness.settings, threading.Event())  # as the launcher runs it
    swept, again = harness.published("gamma.thing.made")
    assert swept["actor"] == again["actor"] == {"kind": "system", "id": "gamma.sweeper"}
    assert valid_traceparent(swept["traceparent"]) and swept["traceparent"] != again["traceparent"]


def test_acting_names_who_publishes_until_it_ends(harness):
    trace = new_traceparent()
    with session_scope(harness.sessions) as session:
        with acting(Actor.system("gamma.announce"), trace):
            events.publish(session, "gamma.thing.made", {"name": "told again"})
        events.publish(session, "gamma.thing.made", {"name": "by nobody known"})
    told, unknown = harness.published("gamma.thing.made")
    assert told["actor"] == {"kind": "system", "id": "gamma.announce"} and told["traceparent"] == trace
    assert unknown["actor"] is None and unknown["traceparent"] != trace


def test_envelopes_with_a_malformed_actor_are_refused():
    for actor in ("ada", {"kind": "robot", "id": "r1"}, {"kind": "account"}, {"kind": "account", "id": ""}):
        raw = json.dumps({"id": "e1", "type": "t.a.b", "producer": "t", "payload": {}, "actor": actor})
        with pytest.raises(ValueError):
            Event.from_json(raw)


@pytest.mark.parametrize(
    ("header", "valid"),
    [
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", True),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", True),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more", True),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more", False),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", False),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", False),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", False),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", False),
        ("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", False),
        ("", False),
    ],
)
def test_traceparent_headers_are_taken_only_when_valid(header, valid):
    assert valid_traceparent(header) is valid
    taken = incoming_traceparent(header)
    assert (taken == header) is valid and valid_traceparent(taken)

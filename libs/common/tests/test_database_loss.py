"""A request in flight when the database goes away answers a 503 problem, never an HTML page."""

from __future__ import annotations

import errno
import secrets
import threading
import time
from dataclasses import replace

import pytest
from flask_smorest import Blueprint
from sqlalchemy import String, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mpdp_common.auth import public
from mpdp_common.config import Settings
from mpdp_common.db import drop_database, ensure_database
from mpdp_common.request_db import db_session
from mpdp_common.service import Service
from mpdp_common.testing import TEST_DATABASE_SERVER, postgres_answers
from mpdp_common.web import create_app

SERVER = TEST_DATABASE_SERVER


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "things"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)


blueprint = Blueprint("slow", __name__, url_prefix="/api/v1")


@blueprint.route("/slow", methods=["POST"])
@public
def slow():
    session = db_session()
    session.add(Thing(name=secrets.token_hex(4)))
    session.flush()
    session.execute(text("SELECT pg_sleep(2)"))
    session.commit()
    return {"done": True}


@pytest.mark.skipif(not postgres_answers(), reason="needs the local PostgreSQL")
def test_the_request_in_flight_when_the_database_goes_away_gets_a_problem():
    url = f"{SERVER}/mpdp_loss_{secrets.token_hex(4)}"
    ensure_database(url)
    try:
        service = Service(name="lossdemo", package="mpdp_common", blueprints=[blueprint], metadata=Base.metadata)
        app = create_app(service, replace(Settings.from_env("lossdemo"), database_url=url))
        Base.metadata.create_all(app.extensions["mpdp"].engine)

        def cut_the_database():
            time.sleep(0.5)
            admin = create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            admin.dispose()

        cutter = threading.Thread(target=cut_the_database)
        cutter.start()
        answer = app.test_client().post("/api/v1/slow")
        cutter.join()
        assert answer.status_code == 503
        assert answer.content_type == "application/problem+json"
        assert answer.headers["Retry-After"]
        app.extensions["mpdp"].engine.dispose()
    finally:
        drop_database(url)


def test_an_error_escaping_the_handlers_is_still_a_problem(tmp_path):
    """A teardown that fails runs after Flask's error handlers; the answer stays a problem document."""
    service = Service(name="teardowndemo", package="mpdp_common", blueprints=[], metadata=Base.metadata)
    app = create_app(service, replace(Settings.from_env("teardowndemo"), database_url=f"sqlite:///{tmp_path}/t.db"))

    @app.teardown_appcontext
    def lose_the_database(_error):
        raise OperationalError("ROLLBACK", {}, Exception("server closed the connection unexpectedly"))

    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503
    assert answer.content_type == "application/problem+json"
    assert answer.get_json()["status"] == 503


def test_a_full_disk_is_a_507_problem(tmp_path):
    full = Blueprint("full", __name__, url_prefix="/api/v1")

    @full.route("/store", methods=["POST"])
    @public
    def store():
        raise OSError(errno.ENOSPC, "No space left on device")

    service = Service(name="fulldemo", package="mpdp_common", blueprints=[full], metadata=Base.metadata)
    app = create_app(service, replace(Settings.from_env("fulldemo"), database_url=f"sqlite:///{tmp_path}/f.db"))
    answer = app.test_client().post("/api/v1/store")
    assert answer.status_code == 507
    assert answer.content_type == "application/problem+json"
    assert "space" in answer.get_json()["detail"]

"""The declared event contracts: one declaration per (type, version), the one shape of an
approval decision that its producer and every consumer share, and events written before a
change of format that still read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from marshmallow import fields

from mpdp_common import contracts
from mpdp_common.contracts import ContractViolation, Payload, declare
from mpdp_common.contracts.approval import DECIDED, WITHDRAWN, approved, concerns


def test_every_platform_event_is_declared_by_its_producer():
    declared = contracts.declared()
    assert ("identity.member.blocked", 1) in declared and (DECIDED, 1) in declared
    for event_type, version in declared:
        producer, entity, verb = event_type.split(".")
        assert producer in ("identity", "workspace", "catalog", "approval", "telemetry") and entity and verb
        assert isinstance(contracts.contract(event_type, version), Payload)


def test_every_field_is_required_unless_it_has_a_default():
    @declare("delta.thing.happened")
    class ThingHappened(Payload):
        name = fields.String()
        note = fields.String(allow_none=True)
        size = fields.Integer(load_default=0)

    with pytest.raises(ContractViolation) as refused:
        contracts.checked("delta.thing.happened", 1, {})
    assert set(refused.value.errors) == {"name", "note"}
    assert contracts.read("delta.thing.happened", 1, {"name": "n", "note": None}) == {"name": "n", "note": None, "size": 0}


def test_a_type_and_version_is_declared_once():
    @declare("delta.other.happened")
    class First(Payload):
        a = fields.String()

    with pytest.raises(ValueError):

        @declare("delta.other.happened")
        class Second(Payload):
            b = fields.String()

    with pytest.raises(contracts.UnknownEventType):
        contracts.contract("nobody.thing.happened")


def test_an_approval_decision_is_read_as_declared():
    decision = {
        "approval_id": "ap1",
        "workspace_id": "w1",
        "type": "feature",
        "status": "approved",
        "subject": {"kind": "feature_activation", "id": "fa1"},
        "applicant_id": "dev",
        "decided_by": "rev",
        "decided_at": "2026-11-25T10:00:00+00:00",
        "comment": None,
    }
    contracts.checked(DECIDED, 1, decision)
    read = contracts.read(DECIDED, 1, decision)
    assert read["decided_at"] == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert approved(read) and concerns(read, "feature", "feature_activation")
    assert not concerns(read, "feature", "launch") and not concerns(read, "launch", "feature_activation")
    assert not approved(read | {"status": "rejected"})
    with pytest.raises(ContractViolation):
        contracts.checked(DECIDED, 1, decision | {"status": "withdrawn"})
    # A producer sends exactly the declared fields, nested ones too; a consumer ignores the others.
    padded = decision | {"subject": {"kind": "feature_activation", "id": "fa1", "extra": 1}}
    with pytest.raises(ContractViolation):
        contracts.checked(DECIDED, 1, padded)
    assert contracts.read(DECIDED, 1, padded)["subject"] == {"kind": "feature_activation", "id": "fa1"}


def test_an_approval_withdrawal_is_read_as_declared():
    withdrawal = {
        "approval_id": "ap1",
        "workspace_id": "w1",
        "type": "developer_workspace",
        "subject": {"kind": "developer_workspace", "id": "dw1"},
        "applicant_id": "dev",
        "withdrawn_by": "dev",
        "withdrawn_at": "2026-11-25T10:00:00.250000+00:00",
    }
    contracts.checked(WITHDRAWN, 1, withdrawal)
    read = contracts.read(WITHDRAWN, 1, withdrawal)
    assert read["withdrawn_at"] == datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=UTC)
    assert concerns(read, "developer_workspace", "developer_workspace")
    assert not concerns(read, "developer_workspace", "launch")
    with pytest.raises(ContractViolation):
        contracts.checked(WITHDRAWN, 1, withdrawal | {"comment": "changed my mind"})


def test_an_upload_time_reads_the_same_to_the_second_with_z_or_to_the_microsecond():
    """Versions uploaded before their events carried microseconds wrote `...Z`; both still read."""
    uploaded = {
        "version_id": "v1",
        "miniprogram_id": "mp1",
        "workspace_id": "w1",
        "version": "1.0.0",
        "sha256": "0" * 64,
        "size": 10,
        "uploaded_by": "dev",
    }
    at = datetime(2026, 11, 25, 10, 0, 7, 250000, tzinfo=UTC)
    for written, meant in (("2026-11-25T10:00:07Z", at.replace(microsecond=0)), (at.isoformat(), at)):
        contracts.checked("catalog.version.uploaded", 1, uploaded | {"uploaded_at": written})
        assert contracts.read("catalog.version.uploaded", 1, uploaded | {"uploaded_at": written})["uploaded_at"] == meant

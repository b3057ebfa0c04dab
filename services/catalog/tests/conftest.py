"""The catalog app through the shared unit-test harness."""

from __future__ import annotations

import pytest

from mpdp_catalog.service import service
from mpdp_common.testing import Harness


@pytest.fixture
def harness(tmp_path):
    harness = Harness(service, tmp_path)
    yield harness
    harness.close()

from mpdp_common.migrations import run_env
from mpdp_telemetry.events import events  # noqa: F401 - defines the outbox and inbox tables
from mpdp_telemetry.models import Base

run_env(Base.metadata)

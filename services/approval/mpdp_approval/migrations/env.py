from mpdp_approval.events import events  # noqa: F401 - defines the outbox and inbox tables
from mpdp_approval.models import Base
from mpdp_common.migrations import run_env

run_env(Base.metadata)

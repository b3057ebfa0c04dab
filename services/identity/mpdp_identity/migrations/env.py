from mpdp_common.migrations import run_env
from mpdp_identity.models import Base
from mpdp_identity.events import events  # noqa: F401 - defines the outbox and inbox tables

run_env(Base.metadata)

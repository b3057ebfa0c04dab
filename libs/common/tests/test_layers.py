"""What the relay and the consumer processes import does not pull in the web layer."""

from __future__ import annotations

import subprocess
import sys

EVENT_RUNTIME = [
    "mpdp_common.db",
    "mpdp_common.service",
    "mpdp_common.events.relay",
    "mpdp_common.events.consumer",
    "mpdp_common.membership",
    "mpdp_common.apikeys",
    "mpdp_common.contracts.approval",
]


def test_the_event_runtime_imports_no_flask():
    probe = (
        f"import sys\nimport {', '.join(EVENT_RUNTIME)}\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug')))"
    )
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "[]"

"""The merged OpenAPI document that the gateway serves is true: schemathesis drives every
operation of the real platform, signed in as a workspace admin, with every check it has (no
server error, statuses, content types, headers and bodies as documented, bad input refused,
good input taken), from a fixed seed and within a bounded number of cases."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

SEED = 20261128
EXAMPLES_PER_OPERATION = 5
#: Operations with fields whose validity no OpenAPI 3.0 schema can state: ids that must name stored
#: resources (JSAPIs, uploaded assets), fields that depend on another (a tenant has no parent), JSON
#: Schemas as values, date ranges bounded by the distance between `from` and `to` (the console's
#: reports) or by their order (the audit log, where a day like 2026-02-30 is well formed too),
#: cursors that go on only in the `sort` that made them. There, well-formed but wrong values are
#: rightly 422.
STORED_OR_CONDITIONAL = [
    ("POST", "/api/v1/workspaces"),
    ("PUT", "/api/v1/workspaces/{ws}/settings"),
    ("POST", "/api/v1/workspaces/{ws}/features"),
    ("PATCH", "/api/v1/workspaces/{ws}/features/{feature_id}"),
    ("POST", "/api/v1/workspaces/{ws}/jsapis"),
    ("PATCH", "/api/v1/workspaces/{ws}/jsapis/{jsapi_id}"),
    *[("GET", f"/api/v1/workspaces/{{ws}}/analytics/{report}") for report in ("overview", "pages", "retention", "events")],
    *[("GET", f"/api/v1/workspaces/{{ws}}/quality/{report}") for report in ("summary", "startup", "issues")],
    ("GET", "/api/v1/workspaces/{ws}/audit-log"),
    ("GET", "/api/v1/workspaces/{ws}/audit-log/export"),
    # which fields a rule takes, and their ranges, depend on its kind
    ("POST", "/api/v1/workspaces/{ws}/alert-rules"),
]
#: Operations that take a secret only a mailbox, an authenticator app or the account's owner holds:
#: a mailed link's token, a TOTP code, the current password. A well-formed one that is not the
#: right one is rightly refused as their documents say: 400 (a link not valid, a wrong code), 403
#: (a wrong password), and 429 once the guesses allowed are spent.
SECRETS = [
    ("POST", "/api/v1/accounts/verify"),
    ("POST", "/api/v1/auth/password-reset/confirm"),
    ("POST", "/api/v1/me/mfa/totp/confirm"),
    ("POST", "/api/v1/me/password"),
]


def test_the_platform_answers_as_its_openapi_document_says(platform, make_user, make_workspace, tmp_path):
    admin = make_user("conformance")
    ws = make_workspace(admin)
    # A workspace id of this admin's reaches past the 404 of a random id. Cursors are opaque: a
    # random string is no cursor (422), so the run is given one of the kind that lists hand out.
    page_cursor = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00+00:00", "0"]).encode()).decode()
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[parameters]\n"path.ws" = "{ws}"\n"query.cursor" = "{page_cursor}"\n\n'
        '[[operations]]\ninclude-path-regex = "/history$"\nparameters = { "query.cursor" = "1" }\n\n'
        # first, and by name ("METHOD /path"): the first section that takes an operation decides
        + "".join(
            f'[[operations]]\ninclude-name = "{method} {path}"\n'
            'checks = { positive_data_acceptance = { expected-statuses = ["2XX", 400, 401, 403, 404, 409, 429] } }\n\n'
            for method, path in SECRETS
        )
        + "".join(
            f'[[operations]]\ninclude-path = "{path}"\ninclude-method = "{method}"\n'
            'checks = { positive_data_acceptance = { expected-statuses = ["2XX", 401, 403, 404, 409, 422] } }\n\n'
            for method, path in STORED_OR_CONDITIONAL
        )
    )
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    command = [
        st,
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{platform.gateway}/api/v1/openapi.json",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--phases",
        "examples,coverage,fuzzing",
        "--header",
        f"Authorization: Bearer {admin.token}",
        "--request-timeout",
        "15",
        "--workers",
        "1",  # one worker: the same cases in the same order on every run
        "--no-shrink",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    (platform.workdir / "schemathesis.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[:20000] + "\n...\n" + run.stdout[-3000:] + run.stderr[-3000:]

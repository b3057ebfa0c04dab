"""Who sees which mini program's analytics and crashes: the platform's rule
(`mpdp_common.assignments`) over telemetry's read models of the catalog's mini programs and
assignments."""

from __future__ import annotations

from mpdp_common.assignments import MiniProgramAccess

from .models import Assignment, MiniProgram

access = MiniProgramAccess(MiniProgram, Assignment)
miniprogram_for = access.miniprogram_for

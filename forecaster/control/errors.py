"""Errors of the control plane (each with its HTTP status, like every forecaster error)."""

from __future__ import annotations

from ..errors import BadInput, ForecasterError, NotFound


class ControlError(ForecasterError):
    """A call to a gateway's control plane failed; the message names the call, the resource and why."""

    status = 502
    code = "control_error"

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.aws_code = code


class TargetNotFound(NotFound):
    """The configured resource (api id, stage, usage plan, zone, record) does not exist."""

    code = "target_not_found"


class InvalidChange(BadInput):
    """A recommendation's params are out of range, or a guardrail refuses the change."""

    code = "invalid_change"

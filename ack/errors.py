"""The kinds of failure that steer the reconciler, and which AWS answers are which.

kopf's permanent/temporary split, as ACK's conditions name it: a TerminalError needs a change to the
resource; the others come back by themselves, each after its own delay (ack/result.py says how long).
"""

from __future__ import annotations


class ReconcileError(Exception):
    """A round could not finish; `reason` is one word for the condition, the message is for a person."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class TerminalError(ReconcileError):
    """Nothing more happens until the spec (or an annotation) changes."""


class RecoverableError(ReconcileError):
    """Worth trying again: AWS throttling or failing past the SDK's retries, a connection lost. The work
    queue backs off per resource (1 s doubling, at most 5 minutes)."""


class BusyError(ReconcileError):
    """AWS is not ready for this call yet (the table or an index is CREATING or UPDATING): look again soon."""


class RateLimitedError(ReconcileError):
    """The call is right but early: AWS allows it again only after `retry_after` seconds."""

    def __init__(self, reason: str, message: str, retry_after: float):
        super().__init__(reason, message)
        self.retry_after = retry_after


# AWS answers that mean "the request itself is wrong": retrying cannot help (ACK retried some forever).
# Refused credentials or permissions are not among them: an operator fixes those outside the resource, and
# the retries then succeed (ACK's ACK.Recoverable, for AccessDeniedException).
TERMINAL_AWS_CODES = frozenset({"ValidationException", "SerializationException", "InvalidParameterValueException"})
# AWS answers that mean "not now".
BUSY_AWS_CODES = frozenset({"ResourceInUseException", "LimitExceededException"})

# AWS's own rate limits on some changes, by a phrase of AWS's message, and how long each window lasts: the
# request is right but early, whatever the error code says. AWS does not say when the window opened, so
# the whole window is waited: never sooner than AWS allows.
RATE_WINDOWS = {
    "multiple times within a fixed interval": 3600.0,  # Time to Live: one change an hour
    "once every 24 hours": 86400.0,  # a switch to PROVISIONED: once a day
    "limited to once in": 86400.0,
}


def from_aws(code: str, message: str, action: str) -> ReconcileError:
    """The reconcile error for an AWS error `code` answered to `action` (e.g. "UpdateTable")."""
    text = f"{action}: {code}: {message}"
    window = next((seconds for phrase, seconds in RATE_WINDOWS.items() if phrase in message), None)
    if window is not None:
        return RateLimitedError("RetryLater", text, window)
    if code in TERMINAL_AWS_CODES:
        return TerminalError(code, text)
    if code in BUSY_AWS_CODES:
        return BusyError("Busy", text)
    return RecoverableError(code or "AWSError", text)

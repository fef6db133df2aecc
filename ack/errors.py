"""The two kinds of failure that steer the reconciler (kopf's permanent/temporary split, ACK's
Terminal/Recoverable conditions), and which AWS error codes are which."""

from __future__ import annotations


class ReconcileError(Exception):
    """A round could not finish; `reason` is one word for the condition, the message is for a person."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class Terminal(ReconcileError):
    """Nothing more happens until the spec (or an annotation) changes."""


class Recoverable(ReconcileError):
    """Worth trying again later: AWS busy, throttled or failing, or a wait that ran out."""


# AWS answers that mean "the request itself is wrong": retrying cannot help (ACK retried some forever).
TERMINAL_AWS_CODES = frozenset(
    {"ValidationException", "SerializationException", "AccessDeniedException", "UnrecognizedClientException",
     "InvalidParameterValueException"}
)
# AWS answers that mean "not now".
BUSY_AWS_CODES = frozenset({"ResourceInUseException", "LimitExceededException"})


# AWS's own rate limits on some changes (TTL within an hour, a switch to PROVISIONED within 24 hours):
# the request is right but early, whatever the error code says.
RATE_LIMIT_PHRASES = ("multiple times within a fixed interval", "once every 24 hours", "limited to once in")


def from_aws(code: str, message: str, action: str) -> ReconcileError:
    """The reconcile error for an AWS error `code` answered to `action` (e.g. "UpdateTable")."""
    text = f"{action}: {code}: {message}"
    if any(phrase in message for phrase in RATE_LIMIT_PHRASES):
        return Recoverable("RetryLater", text)
    if code in TERMINAL_AWS_CODES:
        return Terminal(code, text)
    return Recoverable("Busy" if code in BUSY_AWS_CODES else code or "AWSError", text)

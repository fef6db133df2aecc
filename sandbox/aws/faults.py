"""Faults on request (SANDBOX_AWS_FAULTS): throttling and server errors that botocore's retry modes retry."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

from sandbox.aws.rules import Call, Refusal

# The code and status AWS answers with, per protocol, that botocore classifies as throttling.
_THROTTLE = {
    "query": ("Throttling", 400),
    "ec2": ("RequestLimitExceeded", 503),
    "rest-xml": ("SlowDown", 503),
}
_ERROR = {"query": "InternalFailure", "ec2": "InternalError", "rest-xml": "InternalError"}

_RULE = re.compile(r"(?P<service>[\w.-]+|\*):(?P<operation>\w+|\*)=(?P<fault>\w+):(?P<rate>\S+)")


@dataclass(frozen=True)
class Fault:
    service: str  # SigV4 signing name, or "*"
    operation: str  # or "*"
    fault: str  # "throttle" or "error"
    rate: float  # fraction of matching calls that fail, in [0, 1]

    def matches(self, call: Call) -> bool:
        return self.service in ("*", call.service) and self.operation in ("*", call.operation)

    def refusal(self, call: Call) -> Refusal:
        if self.fault == "throttle":
            code, status = _THROTTLE.get(call.protocol, ("ThrottlingException", 400))
            return Refusal(code, "Rate exceeded (fault injected by the sandbox)", status)
        code = _ERROR.get(call.protocol, "InternalServerError")
        return Refusal(code, "Internal error (fault injected by the sandbox)", 500)


def _parse_rule(rule: str) -> Fault:
    match = _RULE.fullmatch(rule)
    if not match:
        raise ValueError("expected service:Operation=fault:rate")
    if match["fault"] not in ("throttle", "error"):
        raise ValueError("the fault must be throttle or error")
    try:
        rate = float(match["rate"])
    except ValueError:
        rate = math.nan
    if not 0.0 <= rate <= 1.0:
        raise ValueError("the rate must be a number from 0 to 1")
    return Fault(match["service"], match["operation"], match["fault"], rate)


def parse_faults(text: str, source: str = "SANDBOX_AWS_FAULTS") -> list[Fault]:
    """`service:Operation=throttle|error:rate,...`; ValueError naming `source` and quoting the first bad rule."""
    faults = []
    for rule in filter(None, (part.strip() for part in text.split(","))):
        try:
            faults.append(_parse_rule(rule))
        except ValueError as e:
            raise ValueError(f"{source}: bad rule {rule!r}: {e}") from None
    return faults


class Faults:
    """Draws, for each call, whether one of the matching faults strikes (first match first)."""

    def __init__(self, faults: list[Fault], seed: str | None = None):
        self.faults = faults
        self._random = random.Random(seed)

    def pick(self, call: Call) -> Refusal | None:
        for fault in self.faults:
            if fault.matches(call) and self._random.random() < fault.rate:
                return fault.refusal(call)
        return None

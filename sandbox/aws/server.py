"""The local AWS endpoint: moto's WSGI app behind a thin middleware that applies the rules.

Per request: parse it into a `Call`; check the access key id; draw faults; ask the rules that name the
call whether to refuse it; let moto answer; let the rules rewrite moto's JSON; record the call.
The key check compares the SigV4 access key id only: signatures are never verified.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import os
import re
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode
from xml.sax.saxutils import escape

from botocore.exceptions import UnknownServiceError
from moto.core.request import Request
from moto.core.routing import ServiceOperationRouter, get_service_router
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.iam.models import get_account_id_from, iam_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import make_server
from werkzeug.test import run_wsgi_app
from werkzeug.wsgi import get_input_stream

from sandbox.aws.faults import Fault, Faults, parse_faults
from sandbox.aws.rules import Call, Refusal, Rule, default_rules, index_changes, table_key
from sandbox.aws.trail import Trail

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Settings:
    access_key_id: str | None = None  # None: any key gets in
    table_delay: float = 0.5
    index_delay: float = 0.5
    msk_delay: float = 1.0
    latency: float = 0.0  # every answer this much later: AWS's round trip (moto answers in about a millisecond)
    ttl_window: float = 3600.0  # AWS: one Time to Live change per hour
    billing_window: float = 86400.0  # AWS: one switch to PROVISIONED per 24 hours
    trail_delay: float = 1.0  # CloudTrail's events reach EventBridge this long after the call: its lag, shortened
    faults: tuple[Fault, ...] = ()
    fault_seed: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """The SANDBOX_AWS_* variables; ValueError quoting the value when one is malformed."""
        return cls(
            access_key_id=env.get("SANDBOX_AWS_ACCESS_KEY_ID") or None,
            table_delay=_seconds(env, "SANDBOX_AWS_TABLE_DELAY", cls.table_delay),
            index_delay=_seconds(env, "SANDBOX_AWS_INDEX_DELAY", cls.index_delay),
            msk_delay=_seconds(env, "SANDBOX_AWS_MSK_DELAY", cls.msk_delay),
            latency=_seconds(env, "SANDBOX_AWS_LATENCY", cls.latency),
            ttl_window=_seconds(env, "SANDBOX_AWS_TTL_WINDOW", cls.ttl_window),
            billing_window=_seconds(env, "SANDBOX_AWS_BILLING_WINDOW", cls.billing_window),
            trail_delay=_seconds(env, "SANDBOX_AWS_TRAIL_DELAY", cls.trail_delay),
            faults=tuple(parse_faults(env.get("SANDBOX_AWS_FAULTS", ""))),
            fault_seed=env.get("SANDBOX_AWS_FAULT_SEED") or None,
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name}={text!r} is not a number of seconds >= 0")
    return value


# --- Requests into calls ----------------------------------------------------------------------------

# `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`, or the same
# in a presigned URL's X-Amz-Credential.
_CREDENTIAL = re.compile(r"Credential=(\w+)/\d{8}/([\w-]+)/([\w.-]+)/aws4_request")
# REST services whose signing name is not the botocore model's name (or covers several models).
_REST_MODELS = {"elasticfilesystem": ("efs",), "apigateway": ("apigateway", "apigatewayv2")}


def parse_call(environ: Environ, body: bytes) -> Call:
    app = _APP_ID.search(environ.get("HTTP_USER_AGENT", ""))
    return dataclasses.replace(_parse_call(environ, body), app=app.group(1) if app else "")


_APP_ID = re.compile(r"\bapp/(\S+)")


def _parse_call(environ: Environ, body: bytes) -> Call:
    query = environ.get("QUERY_STRING", "")
    form = dict(parse_qsl(query))
    auth = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", "")) or _CREDENTIAL.search(unquote(query))
    if auth:
        key, region, service = auth.groups()
    elif "AWSAccessKeyId" in form:  # a SigV2 presigned URL, which botocore makes for S3 only
        key, region, service = form["AWSAccessKeyId"], "us-east-1", "s3"
    else:
        key, region, service = None, "us-east-1", ""
    path = environ.get("PATH_INFO", "/")
    if target := environ.get("HTTP_X_AMZ_TARGET"):
        return Call(service, target.rsplit(".", 1)[-1], region, "json", _json_object(body), key)
    if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":  # e.g. CloudWatch: /service/NAME/operation/OP
        return Call(service, path.rsplit("/operation/", 1)[-1], region, "cbor", {}, key)
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form.update(parse_qsl(body.decode("utf-8", "replace")))
    if "Action" in form:
        return Call(service, form["Action"], region, "ec2" if service == "ec2" else "query", form, key)
    operation, protocol = _rest_operation(service, environ, body)
    return Call(service, operation, region, protocol, {}, key)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


@functools.cache
def _router(name: str) -> ServiceOperationRouter | None:
    try:
        return get_service_router(name)
    except UnknownServiceError:  # remembered: the sandbox's own paths would look it up on every call
        return None


def _rest_operation(service: str, environ: Environ, body: bytes) -> tuple[str, str]:
    """(operation, protocol) of a REST call, matched by moto's own router on botocore's requestUri templates."""
    for router in filter(None, map(_router, _REST_MODELS.get(service, (service,)))):
        try:
            operation, _ = router.match(Request({**environ, "wsgi.input": io.BytesIO(body)}))
        except Exception:  # no operation matches (werkzeug NotFound, moto NotImplementedError): "*" faults still apply
            continue
        return operation.name, str(operation.service_model.protocol)
    return "", "rest-xml" if service == "s3" else "rest-json"


# --- AWS-shaped errors ------------------------------------------------------------------------------

_JSON_TYPE_PREFIX = {"dynamodb": "com.amazonaws.dynamodb.v20120810#"}
_BAD_KEY_CODE = {"query": "InvalidClientTokenId", "ec2": "AuthFailure", "rest-xml": "InvalidAccessKeyId"}


def error_response(call: Call, refusal: Refusal) -> tuple[int, Headers, bytes]:
    """The error as `call`'s protocol carries it, so that botocore parses its code (and retries throttling)."""
    request_id = str(uuid.uuid4())
    code, message = escape(refusal.code), escape(refusal.message)
    error = f"<Code>{code}</Code><Message>{message}</Message>"
    if call.protocol == "query":
        kind = "Sender" if refusal.status < 500 else "Receiver"
        xml = f"<ErrorResponse><Error><Type>{kind}</Type>{error}</Error>"
        xml += f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        return refusal.status, [("Content-Type", "text/xml")], xml.encode()
    if call.protocol == "ec2":
        xml = f"<Response><Errors><Error>{error}</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        return refusal.status, [("Content-Type", "text/xml")], xml.encode()
    if call.protocol == "rest-xml":
        xml = f"<Error>{error}<RequestId>{request_id}</RequestId></Error>"
        return refusal.status, [("Content-Type", "application/xml")], xml.encode()
    fields = {"__type": _JSON_TYPE_PREFIX.get(call.service, "") + refusal.code, "message": refusal.message}
    headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", refusal.code)]
    if call.protocol == "cbor":
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        return refusal.status, headers, _cbor(fields)
    content_type = "application/x-amz-json-1.0" if call.protocol == "json" else "application/json"
    return refusal.status, [*headers, ("Content-Type", content_type)], json.dumps(fields).encode()


def _cbor(fields: dict[str, str]) -> bytes:
    """A CBOR map of text to text: all an rpc-v2-cbor error body needs."""

    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        if n < 256:
            return bytes([major << 5 | 24, n])
        return bytes([major << 5 | 25]) + n.to_bytes(2, "big")

    def text(s: str) -> bytes:
        data = s.encode()[:65535]
        return head(3, len(data)) + data

    return head(5, len(fields)) + b"".join(text(k) + text(v) for k, v in fields.items())


# --- The middleware ---------------------------------------------------------------------------------


class CallLog:
    """Every call answered, for tests: service, operation, wall-clock time and HTTP status."""

    def __init__(self, limit: int = 100_000):
        self._calls: deque[dict[str, Any]] = deque(maxlen=limit)  # bounded: a long-lived sandbox must not grow

    def record(self, call: Call, status: int) -> None:
        entry = {"service": call.service, "operation": call.operation, "time": time.time(), "status": status,
                 "app": call.app, "region": call.region, "account": account_of(call)}
        if call.service == "dynamodb" and (table := table_key(call)[1] or _arn_table(call)):
            entry["table"] = table  # which table a DynamoDB call was about: "created exactly once" tests
        if changes := index_changes(call):  # which GSIs an UpdateTable created or deleted: data safety tests
            entry["index_changes"] = [list(change) for change in changes]
        self._calls.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        return list(self._calls)

    def clear(self) -> None:
        self._calls.clear()


def _arn_table(call: Call) -> str:
    """The table a call names by ARN (tagging, resource policies), or ""."""
    return str(call.params.get("ResourceArn", "")).partition(":table/")[2].split("/")[0]


def issued_by_sts(access_key_id: str | None) -> bool:
    """Whether moto's STS issued this key (AssumeRole): moto keeps it, with the role, in the role's account."""
    if not access_key_id:
        return False
    return any(access_key_id in backend.access_keys and backend.access_keys[access_key_id].role_arn
               for account in list(iam_backends.values()) for backend in account.values())


def account_of(call: Call) -> str:
    """The account a call acts in: moto's own choice for its key (an assumed role's account, else the default)."""
    return os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(call.access_key_id or "")


def moto_dynamodb(call: Call, region: str) -> Any:
    """moto's DynamoDB backend in `region`, of the account moto itself picks for the caller's key."""
    return dynamodb_backends[account_of(call)][region]


def moto_table(call: Call) -> Table | None:
    """The moto table a DynamoDB call names."""
    return moto_dynamodb(call, call.region).tables.get(table_key(call)[1])


class Endpoint:
    """WSGI app: moto wrapped with the key check, faults, rules, call log, CloudTrail's events and the /_sandbox/
    paths."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.faults = Faults(list(settings.faults), settings.fault_seed)
        self.rules = default_rules(settings.table_delay, settings.index_delay, settings.msk_delay, moto_table,
                                   moto_dynamodb,
                                   ttl_window=settings.ttl_window, billing_window=settings.billing_window)
        self.calls = CallLog()
        self.trail = Trail(settings.trail_delay, account_of)
        # Rules check state, then moto changes it: one call with rules at a time keeps the two consistent.
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_sandbox/health":  # no key needed: it tells only that the endpoint is up
            return _json_reply(start_response, 200, {"ok": True})
        body = get_input_stream(environ).read()
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        call = parse_call(environ, body)
        refusal = self._bad_key(call)
        if path.startswith("/_sandbox/"):
            return self._sandbox(environ, start_response, call, refusal, body)
        if self.settings.latency:  # each request in a thread of its own: waits overlap, as against AWS
            time.sleep(self.settings.latency)
        refusal = refusal or self.faults.pick(call)
        rules = [rule for rule in self.rules if rule.applies(call)]
        if refusal is None and not rules:
            return self._pass(call, environ, start_response)
        if refusal is None:
            with self._lock:
                return self._with_rules(call, rules, environ, start_response)
        return self._refuse(call, refusal, start_response)

    def _bad_key(self, call: Call) -> Refusal | None:
        # The sandbox's own key, or one its STS issued (AssumeRole): that key acts in the role's account.
        if self.settings.access_key_id in (None, call.access_key_id) or issued_by_sts(call.access_key_id):
            return None
        code = _BAD_KEY_CODE.get(call.protocol, "UnrecognizedClientException")
        return Refusal(code, "The security token included in the request is invalid.", 403)

    def _refuse(self, call: Call, refusal: Refusal, start_response: StartResponse) -> Iterable[bytes]:
        status, headers, body = error_response(call, refusal)
        self.calls.record(call, status)
        return _reply(start_response, status, headers, body)

    def _pass(self, call: Call, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def recording_start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
            self._answered(call, int(status.split()[0]), environ)
            return start_response(status, headers, exc_info)

        return self.moto(environ, recording_start_response)

    def _with_rules(
        self, call: Call, rules: list[Rule], environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        refusal = next(filter(None, (rule.before(call) for rule in rules)), None)
        if refusal is not None:
            return self._refuse(call, refusal, start_response)
        answered = next(filter(lambda a: a is not None, (rule.answer(call) for rule in rules)), None)
        if answered is not None:  # what moto does not serve
            body = json.dumps(answered).encode()
            self._answered(call, 200, environ)
            return _reply(start_response, 200, [("Content-Type", "application/x-amz-json-1.0"),
                                                 ("x-amz-crc32", str(zlib.crc32(body)))], body)
        for rule in rules:
            if (params := rule.request(call)) is not None:  # what moto is asked instead
                asked = urlencode(params).encode() if call.protocol == "query" else json.dumps(params).encode()
                environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(asked), str(len(asked))
        app_iter, status_line, headers = run_wsgi_app(self.moto, environ, buffered=True)  # read and closed
        body = b"".join(app_iter)
        status = int(status_line.split()[0])
        if 200 <= status < 300 and body and call.protocol == "query":  # an XML answer
            text = body.decode()
            for rule in rules:
                text = rule.after_text(call, text)
            body = text.encode()
            headers["Content-Length"] = str(len(body))
        elif 200 <= status < 300 and body:  # moto labels kafka's JSON text/html
            answer = json.loads(body)
            for rule in rules:
                rule.after(call, answer)
            body = json.dumps(answer).encode()
            headers["Content-Length"] = str(len(body))
            if "x-amz-crc32" in headers:  # botocore checks it on DynamoDB answers
                headers["x-amz-crc32"] = str(zlib.crc32(body))
        self._answered(call, status, environ)
        start_response(status_line, headers.to_wsgi_list())
        return [body]

    def _answered(self, call: Call, status: int, environ: Environ) -> None:
        """A call moto or a rule answered (never a refused one): logged, and passed to CloudTrail."""
        self.calls.record(call, status)
        self.trail.record(call, status, environ.get("HTTP_USER_AGENT", ""))

    def _sandbox(
        self, environ: Environ, start_response: StartResponse, call: Call, refusal: Refusal | None, body: bytes
    ) -> Iterable[bytes]:
        if refusal is not None:
            return _reply(start_response, *error_response(call, refusal))
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        if path == "/_sandbox/calls" and method in ("GET", "DELETE"):
            if method == "DELETE":
                self.calls.clear()
            return _json_reply(start_response, 200, self.calls.entries())
        if path == "/_sandbox/faults" and method in ("GET", "PUT"):
            if method == "PUT":  # the SANDBOX_AWS_FAULTS syntax; empty clears them; in force from the next call
                try:
                    faults = parse_faults(body.decode("utf-8", "replace"), "--faults")
                except ValueError as exc:
                    return _json_reply(start_response, 400, {"message": str(exc)})
                self.faults = Faults(faults, self.settings.fault_seed)
            return _json_reply(start_response, 200, {"faults": [dataclasses.asdict(f) for f in self.faults.faults]})
        return _json_reply(start_response, 404, {"message": f"no {method} {path}"})


def _reply(start_response: StartResponse, status: int, headers: Headers, body: bytes) -> list[bytes]:
    start_response(f"{status} {HTTP_STATUS_CODES.get(status, '')}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _json_reply(start_response: StartResponse, status: int, data: Any) -> list[bytes]:
    return _reply(start_response, status, [("Content-Type", "application/json")], json.dumps(data).encode())


def serve(port: int, settings: Settings) -> None:
    """Serve on 127.0.0.1:`port` (threaded) until the process is stopped."""
    server = make_server("127.0.0.1", port, Endpoint(settings), threaded=True, request_handler=MotoRequestHandler)
    print(f"local AWS endpoint listening on http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()

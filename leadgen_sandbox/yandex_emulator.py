"""A loopback emulator of Yandex Search API v2 deferred mode, the Operation API and the IAM token endpoint.

    with YandexEmulator(EmulatorConfig(time_to_done=0)) as emu:
        settings = Settings(**emu.settings_overrides())     # URLs + a service-account key it trusts
        ...
        emu.requests                                        # every request, with the emulator clock's time

A real HTTP server (ThreadingHTTPServer) in a background thread. Operations finish `time_to_done` seconds
after creation on the injected clock (and after `polls_to_done` polls); results are the deterministic XML
of `serp_xml`. Faults are injected by rate (seeded): 429, 500, slow responses, 401, malformed XML, malformed
base64, operations never done. Quotas (rps / per hour) are enforced like the real service, answering 429.
"""

from __future__ import annotations

import base64
import functools
import json
import random
import re
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from leadgen.clock import Clock, utc_now
from leadgen_sandbox.serp_xml import DEFAULT_MAX_RESULTS, SerpSpec, render_serp_xml
from leadgen_sandbox.yandex_wire import Reply, rfc3339, status, validate_search_body

IAM_AUDIENCE = "https://iam.api.cloud.yandex.net/iam/v1/tokens"
RESPONSE_TYPE = "type.googleapis.com/yandex.cloud.searchapi.v2.WebSearchResponse"
OPERATION_PATH_RE = re.compile(r"^/operations/(?P<id>[A-Za-z0-9]+)(?P<cancel>:cancel)?$")
TOKEN_LIFETIME = timedelta(hours=12)
EMPTY_RESPONSE = object()


@dataclass(frozen=True, slots=True)
class Faults:
    """Rates (0..1) of injected faults; request faults apply to searchAsync and operation calls."""

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_401: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 2.0  # real seconds: enough to trip a client timeout
    rate_malformed_xml: float = 0.0  # per operation: rawData decodes to truncated XML
    rate_malformed_base64: float = 0.0  # per operation: rawData is not base64
    rate_never_done: float = 0.0  # per operation: never finishes
    rate_operation_error: float = 0.0  # per operation: done with error {code: 13}


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Behaviour of the emulator; `clock` drives time-to-done, token expiry, quotas and request timestamps."""

    time_to_done: float = 300.0  # seconds on `clock` (the real minimum is 5 minutes)
    polls_to_done: int = 0  # additionally require this many polls before done
    clock: Clock = utc_now
    seed: int = 7
    faults: Faults = field(default_factory=Faults)
    rps: int | None = 10  # searchAsync and GET operation each; None disables the quota
    rph: int | None = 35_000  # searchAsync per hour
    api_keys: frozenset[str] = frozenset({"AQVNsandbox-api-key"})
    static_tokens: frozenset[str] = frozenset()
    folder_id: str = "b1gsandboxfolder0000"
    max_results: int = DEFAULT_MAX_RESULTS
    reject_unknown_fields: bool = False
    omit_false_done: bool = False  # proto3 JSON style: leave `done` out while it is false


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the emulator saw it: time on the emulator clock, method, path, answer status."""

    at: datetime
    method: str
    path: str
    status: int
    kind: str  # "create", "poll", "cancel", "iam", "other"
    auth_scheme: str | None
    client_request_id: str | None
    body: dict[str, Any] | None


@dataclass(slots=True)
class _Op:
    id: str
    spec: SerpSpec
    created_at: datetime
    created_by: str
    polls: int = 0
    never_done: bool = False
    malformed_xml: bool = False
    malformed_base64: bool = False
    fails: bool = False


@functools.cache
def _test_key_pair() -> rsa.RSAPrivateKey:
    """One RSA-2048 pair per process: key generation is slow, and the key only ever signs sandbox JWTs."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class YandexEmulator:
    """Start with `with YandexEmulator(config) as emu:` (or start()/stop()); `emu.url` is the base URL."""

    def __init__(
        self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or EmulatorConfig()
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._rng = random.Random(self.config.seed)
        self._ops: dict[str, _Op] = {}
        self._tokens: dict[str, datetime] = {
            t: datetime.max.replace(tzinfo=UTC) for t in self.config.static_tokens
        }
        self._windows: dict[str, deque[float]] = {"create_s": deque(), "poll_s": deque(), "create_h": deque()}
        self.requests: list[RecordedRequest] = []
        self.key_id = "aje" + secrets.token_hex(8)[:17]
        self.service_account_id = "aje" + secrets.token_hex(8)[:17]
        self._private_key = _test_key_pair()
        self.public_key_pem = (
            self._private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> YandexEmulator:
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="yandex-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> YandexEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- what tests and the demo use ----------------------------------------------------------------------

    def sa_key_json(self, *, explanatory_line: bool = True) -> str:
        """An authorized-key JSON (as `yc iam key create` writes it) whose JWTs this emulator accepts."""
        pem = self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        if explanatory_line:
            pem = f"PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <{self.key_id}>\n{pem}"
        return json.dumps(
            {
                "id": self.key_id,
                "service_account_id": self.service_account_id,
                "created_at": "2026-01-01T00:00:00.000000Z",
                "key_algorithm": "RSA_2048",
                "public_key": self.public_key_pem,
                "private_key": pem,
            }
        )

    def settings_overrides(self, *, auth: str = "sa_key") -> dict[str, Any]:
        """Settings fields pointing the client here; `auth` is "sa_key", "api_key" or "iam_token"."""
        overrides: dict[str, Any] = {
            "yandex_search_api_url": self.url,
            "yandex_operation_api_url": self.url,
            "yandex_iam_url": f"{self.url}/iam/v1/tokens",
            "yandex_folder_id": self.config.folder_id,
        }
        if auth == "sa_key":
            overrides["yandex_cloud_sa_key_json"] = self.sa_key_json()
        elif auth == "api_key":
            overrides["yandex_api_key"] = sorted(self.config.api_keys)[0]
        elif auth == "iam_token":
            overrides["yandex_cloud_iam_token"] = self.issue_token()
        else:
            raise ValueError(f"unknown auth {auth!r}")
        return overrides

    def issue_token(self, *, lifetime: timedelta = TOKEN_LIFETIME) -> str:
        """A fresh IAM token of the documented shape, valid for `lifetime` on the emulator clock."""
        token = "t1." + secrets.token_urlsafe(48) + "." + secrets.token_urlsafe(64)[:86]
        with self._lock:
            self._tokens[token] = self.config.clock() + lifetime
        return token

    def operation_ids(self) -> list[str]:
        with self._lock:
            return list(self._ops)

    def recorded(self, kind: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.kind == kind]

    # --- request handling (called from server threads) ----------------------------------------------------

    def _record(
        self, handler: _Handler, kind: str, status: int, body: dict[str, Any] | None, at: datetime
    ) -> None:
        auth = handler.headers.get("Authorization")
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    at=at,
                    method=handler.command,
                    path=handler.path,
                    status=status,
                    kind=kind,
                    auth_scheme=auth.split(" ", 1)[0] if auth else None,
                    client_request_id=handler.headers.get("x-client-request-id"),
                    body=body,
                )
            )

    def _roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def _check_auth(self, header: str | None, now: datetime) -> str:
        if not header:
            raise Reply(401, status(16, "The token is invalid or has expired."))
        scheme, _, value = header.partition(" ")
        with self._lock:
            if scheme == "Api-Key" and value in self.config.api_keys:
                return "ajeapikeyaccount0000"
            expires = self._tokens.get(value) if scheme == "Bearer" else None
        if expires is None or now >= expires:
            raise Reply(401, status(16, "Token is invalid or has expired."))
        return self.service_account_id

    def _quota(self, name: str, limit: int | None, period: float, now: datetime) -> None:
        if limit is None:
            return
        t = now.timestamp()
        with self._lock:
            window = self._windows[name]
            while window and window[0] <= t - period:
                window.popleft()
            if len(window) >= limit:
                raise Reply(429, status(8, "Resource has been exhausted (quota exceeded)"))
            window.append(t)

    def _request_faults(self) -> None:
        faults = self.config.faults
        if self._roll(faults.rate_slow):
            time.sleep(faults.slow_seconds)  # a real delay, so the client's timeout fires
        if self._roll(faults.rate_429):
            raise Reply(429, status(8, "Too many requests"))
        if self._roll(faults.rate_500):
            raise Reply(500, status(13, "Internal error"))
        if self._roll(faults.rate_401):
            raise Reply(401, status(16, "Token is invalid or has expired."))

    def handle_create(self, handler: _Handler, body: Any, now: datetime) -> dict[str, Any]:
        subject = self._check_auth(handler.headers.get("Authorization"), now)
        self._request_faults()
        spec = validate_search_body(
            body, max_results=self.config.max_results, reject_unknown_fields=self.config.reject_unknown_fields
        )
        self._quota("create_s", self.config.rps, 1.0, now)
        self._quota("create_h", self.config.rph, 3600.0, now)
        faults = self.config.faults
        with self._lock:
            op_id = "spp" + "".join(self._rng.choice("abcdefghijklmnopqrstuv0123456789") for _ in range(17))
        op = _Op(
            id=op_id,
            spec=spec,
            created_at=now,
            created_by=subject,
            never_done=self._roll(faults.rate_never_done),
            malformed_xml=self._roll(faults.rate_malformed_xml),
            malformed_base64=self._roll(faults.rate_malformed_base64),
            fails=self._roll(faults.rate_operation_error),
        )
        with self._lock:
            self._ops[op_id] = op
        return self._operation_json(op, now, done=False)

    def handle_poll(self, handler: _Handler, op_id: str, now: datetime, *, cancel: bool) -> dict[str, Any]:
        self._check_auth(handler.headers.get("Authorization"), now)
        self._request_faults()
        self._quota("poll_s", self.config.rps, 1.0, now)
        with self._lock:
            op = self._ops.get(op_id)
            if op is None:
                raise Reply(404, status(5, f"Operation {op_id} not found"))
            op.polls += 1
        age = (now - op.created_at).total_seconds()
        done = not op.never_done and age >= self.config.time_to_done and op.polls >= self.config.polls_to_done
        if cancel and not done:
            return {
                **self._operation_json(op, now, done=True),
                "error": {"code": 1, "message": "cancelled", "details": []},
            }
        return self._operation_json(op, now, done=done)

    def _operation_json(self, op: _Op, now: datetime, *, done: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": op.id,
            "description": "WEB search async",
            "createdAt": rfc3339(op.created_at),
            "createdBy": op.created_by,
            "modifiedAt": rfc3339(now if done else op.created_at),
        }
        if not done:
            if not self.config.omit_false_done:
                body["done"] = False
            return body
        body["done"] = True
        if op.fails:
            body["error"] = {"code": 13, "message": "Internal error while searching", "details": []}
            return body
        xml = render_serp_xml(
            op.spec, now=op.created_at + timedelta(seconds=min(self.config.time_to_done, 60))
        )
        if op.malformed_xml:
            xml = xml[: len(xml) // 2]
        raw = base64.b64encode(xml).decode("ascii")
        if op.malformed_base64:
            raw = "%%not-base64%%" + raw[:40]
        body["response"] = {"@type": RESPONSE_TYPE, "rawData": raw}
        return body

    def handle_iam(self, body: Any, now: datetime) -> dict[str, Any]:
        """Verify the PS256 JWT (kid, iss, aud, lifetime, signature) and issue a 12-hour token."""
        token = body.get("jwt") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise Reply(400, status(3, "jwt: field is required"))
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Reply(400, status(3, f"invalid JWT: {exc}")) from None
        if header.get("alg") != "PS256":
            raise Reply(400, status(3, "JWT algorithm must be PS256"))
        if header.get("kid") != self.key_id:
            raise Reply(401, status(16, "unknown key id"))
        try:
            claims = jwt.decode(
                token,
                self.public_key_pem,
                algorithms=["PS256"],
                audience=IAM_AUDIENCE,
                options={"verify_exp": False, "verify_iat": False, "require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.PyJWTError as exc:
            raise Reply(401, status(16, f"JWT verification failed: {exc}")) from None
        if claims["iss"] != self.service_account_id:
            raise Reply(401, status(16, "JWT issuer is not the key's service account"))
        iat, exp = int(claims["iat"]), int(claims["exp"])
        t = now.timestamp()
        if exp - iat > 3600 or exp <= t or iat > t + 300:
            raise Reply(401, status(16, "JWT is expired or its lifetime exceeds one hour"))
        token_value = self.issue_token()
        with self._lock:
            expires = self._tokens[token_value]
        return {"iamToken": token_value, "expiresAt": expires.isoformat().replace("+00:00", "Z")}


class _Handler(BaseHTTPRequestHandler):
    emulator: YandexEmulator
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; avoid the 40 ms delayed ACK

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise Reply(400, status(3, "request body is not valid JSON")) from None

    def _dispatch(self) -> None:
        emu = self.emulator
        now = emu.config.clock()
        path = self.path.split("?", 1)[0]
        kind, body, reply = "other", None, Reply(404, status(5, f"no route for {self.command} {path}"))
        try:
            body = self._body() if self.command == "POST" else None
            match = OPERATION_PATH_RE.match(path)
            if self.command == "POST" and path == "/v2/web/searchAsync":
                kind = "create"
                reply = Reply(200, emu.handle_create(self, body, now))
            elif self.command == "GET" and match and not match["cancel"]:
                kind = "poll"
                reply = Reply(200, emu.handle_poll(self, match["id"], now, cancel=False))
            elif self.command == "POST" and match and match["cancel"]:
                kind = "cancel"
                reply = Reply(200, emu.handle_poll(self, match["id"], now, cancel=True))
            elif self.command == "POST" and path == "/iam/v1/tokens":
                kind = "iam"
                reply = Reply(200, emu.handle_iam(body, now))
        except Reply as answer:
            reply = answer
        emu._record(self, kind, reply.status, body if isinstance(body, dict) else None, now)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        try:
            self._write(reply)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test): nothing to do
            self.close_connection = True

    def _write(self, reply: Reply) -> None:
        payload = json.dumps(reply.body, ensure_ascii=False).encode("utf-8", "replace")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", str(uuid.uuid4()))
        self.send_header("x-server-trace-id", secrets.token_hex(8))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

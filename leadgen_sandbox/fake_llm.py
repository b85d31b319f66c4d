"""A loopback OpenAI-compatible `/v1/chat/completions` server returning deterministic JSON drafts.

It reads the JSON block of the last user message (the composer's briefs) and writes a Russian draft from
the offer and company fields. `mode` switches on misbehaviour for tests and the demo:

- `ok`: a valid draft;  `invalid_json`: prose instead of JSON;  `schema_violation`: wrong keys;
- `obey_injection`: follows instructions found in the quoted site text (appends the link it finds there);
- `error`: HTTP 500 with an OpenAI-style error body.

>>> with FakeLlm() as llm:  # doctest: +SKIP
...     settings = Settings(openai_api_key="sk-fake", openai_base_url=llm.base_url)
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

LlmMode = Literal["ok", "invalid_json", "schema_violation", "obey_injection", "error"]
MODES: tuple[str, ...] = ("ok", "invalid_json", "schema_violation", "obey_injection", "error")
JSON_BLOCK_RE = re.compile(r"```json\s*(\{.*\})\s*```", re.DOTALL)
URL_RE = re.compile(r"https?://[^\s\"'<>)]+")
INJECTED_LINK = "https://promo.example.com/special"


def _briefs(messages: list[dict[str, Any]]) -> dict[str, Any]:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            match = JSON_BLOCK_RE.search(text)
            if match:
                try:
                    data = json.loads(match.group(1))
                except json.JSONDecodeError:
                    return {}
                return data if isinstance(data, dict) else {}
    return {}


def draft_from_prompt(messages: list[dict[str, Any]], /) -> dict[str, str]:
    """The deterministic draft for a prompt: {"subject", "body"} built from its offer and recipient."""
    data = _briefs(messages)
    offer = data.get("offer") or {}
    recipient = data.get("recipient") or {}
    sender = offer.get("sender") or {}
    company = recipient.get("company_name") or recipient.get("domain") or "вашей компании"
    product = str(offer.get("product") or "наше решение").rstrip(".")
    niche = recipient.get("niche") or ""
    city = recipient.get("city") or ""
    where = f" в городе {city}" if city else ""
    about = f"Компаниям в сфере «{niche}»{where}" if niche else f"Компаниям{where} вроде {company}"
    body = (
        f"Здравствуйте!\n\n"
        f"Меня зовут {sender.get('name', '')}, я из компании {sender.get('company', '')}. "
        f"Посмотрели, чем занимается {company}, и думаем, что вам пригодится {product}.\n\n"
        f"{about} это даёт понятную пользу: {offer.get('benefit', '')}\n\n"
        f"{offer.get('call_to_action', '')}\n\n"
        f"С уважением,\n{sender.get('name', '')}"
    )
    return {"subject": f"{product} для {company}"[:110], "body": body}


def completion_content(request: dict[str, Any], mode: str, /) -> str:
    """The assistant message content for `request` under `mode` (not used for mode `error`)."""
    messages = request.get("messages") or []
    draft = draft_from_prompt(messages)
    if mode == "invalid_json":
        return "Конечно! Вот письмо:\n" + draft["subject"] + "\n\n" + draft["body"]
    if mode == "schema_violation":
        return json.dumps({"title": draft["subject"], "text": draft["body"]}, ensure_ascii=False)
    if mode == "obey_injection":
        quote = _briefs(messages).get("untrusted_site_quote") or {}
        text = f"{quote.get('snippet', '')} {quote.get('site_text', '')}"
        links = URL_RE.findall(text)
        draft["body"] += f"\n\nПодробнее по ссылке: {links[0] if links else INJECTED_LINK}"
    return json.dumps(draft, ensure_ascii=False)


def completion_response(request: dict[str, Any], mode: str, /, *, seq: int = 1) -> dict[str, Any]:
    """A Chat Completions response body as OpenAI returns it."""
    content = completion_content(request, mode)
    return {
        "id": f"chatcmpl-fake-{seq}",
        "object": "chat.completion",
        "created": 1_760_000_000 + seq,
        "model": request.get("model", "fake-llm"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 100, "total_tokens": 200},
    }


ERROR_BODY = {"error": {"message": "fake upstream failure", "type": "server_error", "code": None}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._reply(200, {"object": "list", "data": [{"id": "fake-llm", "object": "model"}]})
        else:
            self._reply(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            request = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._reply(400, {"error": {"message": "request body is not JSON"}})
            return
        if self.path.rstrip("/") == "/_control":
            mode = request.get("mode")
            if mode not in MODES:
                self._reply(400, {"error": {"message": f"mode must be one of {MODES}"}})
                return
            self.server.owner.mode = mode
            self._reply(200, {"mode": mode})
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._reply(404, {"error": {"message": "not found"}})
            return
        owner = self.server.owner
        seq = owner._record(request, self.headers.get("Authorization"))
        if owner.mode == "error":
            self._reply(500, ERROR_BODY)
            return
        self._reply(200, completion_response(request, owner.mode, seq=seq))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeLlm


class FakeLlm:
    """The fake LLM server on 127.0.0.1 (random port); `base_url` ends with /v1 like OpenAI's."""

    def __init__(self, *, mode: LlmMode = "ok", host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fake LLM only listens on loopback")
        self.mode: str = mode
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self._lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        host = self._server.server_address[0]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{self.port}/v1"

    def _record(self, request: dict[str, Any], authorization: str | None) -> int:
        with self._lock:
            self.requests.append(request)
            self.authorizations.append(authorization)
            return len(self.requests)

    def start(self) -> FakeLlm:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLlm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

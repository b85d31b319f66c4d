"""Sandbox pieces of issue 7: the fake OpenAI-compatible LLM and the SMTP sink's guards."""

from __future__ import annotations

import json

import httpx
import pytest

from leadgen.outreach.briefs import CompanyBrief, ContactBrief
from leadgen.outreach.composer import FallbackComposer, build_messages
from leadgen_sandbox.fake_llm import INJECTED_LINK, FakeLlm, draft_from_prompt
from leadgen_sandbox.smtp_sink import SmtpSink
from tests.outreach.factories import make_offer

COMPANY = CompanyBrief(1, "Клиника «Улыбка»", "ulybka.ru", "стоматология", "Казань", "", "")
MESSAGES = build_messages(COMPANY, ContactBrief(1, "info@ulybka.ru"), make_offer(), FallbackComposer().policy)


def chat(llm: FakeLlm) -> httpx.Response:
    return httpx.post(
        f"{llm.base_url}/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers={"Authorization": "Bearer sk-x"},
        timeout=5,
    )


def test_modes_over_http() -> None:
    with FakeLlm() as llm:
        ok = chat(llm).json()
        draft = json.loads(ok["choices"][0]["message"]["content"])
        assert draft == draft_from_prompt(MESSAGES) and set(draft) == {"subject", "body"}
        assert ok["object"] == "chat.completion" and ok["model"] == "m"
        llm.mode = "invalid_json"
        with pytest.raises(json.JSONDecodeError):
            json.loads(chat(llm).json()["choices"][0]["message"]["content"])
        llm.mode = "schema_violation"
        assert set(json.loads(chat(llm).json()["choices"][0]["message"]["content"])) == {"title", "text"}
        llm.mode = "obey_injection"
        assert INJECTED_LINK in chat(llm).json()["choices"][0]["message"]["content"]
        assert httpx.post(f"http://127.0.0.1:{llm.port}/_control", json={"mode": "error"}).status_code == 200
        assert chat(llm).status_code == 500
        assert httpx.post(f"http://127.0.0.1:{llm.port}/_control", json={"mode": "x"}).status_code == 400
        assert len(llm.requests) == 5 and llm.authorizations[0] == "Bearer sk-x"


def test_drafts_are_deterministic_and_russian() -> None:
    draft = draft_from_prompt(MESSAGES)
    assert draft == draft_from_prompt(MESSAGES)
    assert "Клиника «Улыбка»" in draft["subject"] and "Казань" in draft["body"]


def test_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FakeLlm(host="0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        SmtpSink(host="10.0.0.1")


def test_sink_settings_env_points_a_route_at_it() -> None:
    with SmtpSink(tls="starttls", auth=("u", "p")) as sink:
        env = sink.settings_env("yandex")
        assert env["smtp_yandex_port"] == str(sink.port) and env["smtp_yandex_security"] == "starttls"
        assert env["smtp_ca_file"].endswith("sandbox-cert.pem") and sink.url.startswith(
            "smtp+starttls://127.0.0.1:"
        )

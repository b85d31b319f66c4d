"""Loopback stand-ins for external services (demo and tests): SMTP sink, fake OpenAI-compatible LLM."""

from leadgen.sandbox.fake_llm import FakeLlm
from leadgen.sandbox.smtp_sink import Fault, SinkMessage, SmtpSink

__all__ = ["FakeLlm", "Fault", "SinkMessage", "SmtpSink"]

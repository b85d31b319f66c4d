"""Loopback stand-ins for external services, for the demo and the tests (never used against real hosts)."""

from leadgen.sandbox.fake_llm import FakeLlm
from leadgen.sandbox.smtp_sink import Fault, SinkMessage, SmtpSink
from leadgen.sandbox.yandex_emulator import EmulatorConfig, Faults, RecordedRequest, YandexEmulator

__all__ = [
    "EmulatorConfig",
    "FakeLlm",
    "Fault",
    "Faults",
    "RecordedRequest",
    "SinkMessage",
    "SmtpSink",
    "YandexEmulator",
]

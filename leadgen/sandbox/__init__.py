"""Loopback stand-ins for external services, for the demo and the tests (never used against real hosts)."""

from leadgen.sandbox.demo import DemoSnapshot, snapshot
from leadgen.sandbox.fake_llm import FakeLlm
from leadgen.sandbox.site_farm import SiteFarm
from leadgen.sandbox.smtp_sink import Fault, SinkMessage, SmtpSink
from leadgen.sandbox.stack import SandboxStack, settings_env
from leadgen.sandbox.yandex_emulator import EmulatorConfig, Faults, RecordedRequest, YandexEmulator

__all__ = [
    "DemoSnapshot",
    "EmulatorConfig",
    "FakeLlm",
    "Fault",
    "Faults",
    "RecordedRequest",
    "SandboxStack",
    "SinkMessage",
    "SiteFarm",
    "SmtpSink",
    "YandexEmulator",
    "settings_env",
    "snapshot",
]

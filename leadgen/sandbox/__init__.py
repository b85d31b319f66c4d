"""Loopback stand-ins for external services, for the demo and the tests (never used against real hosts)."""

from leadgen.sandbox.yandex_emulator import EmulatorConfig, Faults, RecordedRequest, YandexEmulator

__all__ = ["EmulatorConfig", "Faults", "RecordedRequest", "YandexEmulator"]

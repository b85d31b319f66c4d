"""Sandbox fixtures reuse the Yandex test fixtures (manual clock, emulator, anyio backend)."""

from tests.yandex.conftest import anyio_backend, clock, emulator

__all__ = ["anyio_backend", "clock", "emulator"]

"""Fixtures for the fault matrix: async tests run on asyncio; a real Dovecot for the sent-folder storm."""

from __future__ import annotations

import pytest

from tests.support.dovecot import dovecot, dovecot_session

__all__ = ["anyio_backend", "dovecot", "dovecot_session"]


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio through the anyio pytest plugin (`pytestmark = pytest.mark.anyio`)."""
    return "asyncio"

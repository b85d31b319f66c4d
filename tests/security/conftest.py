"""Fixtures for the security tests: async tests run on asyncio."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio through the anyio pytest plugin (`pytestmark = pytest.mark.anyio`)."""
    return "asyncio"

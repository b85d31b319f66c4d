"""Fixtures of the mailbox tests: one real Dovecot per session (skipped, saying why, when it is not installed),
emptied before each test that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dovecot import BINARY, MISSING, Dovecot, DovecotStartError, dovecot_server


@pytest.fixture(scope="session")
def dovecot_session() -> Iterator[Dovecot]:
    if BINARY is None:
        pytest.skip(MISSING)
    try:
        with dovecot_server() as server:
            yield server
    except DovecotStartError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def dovecot(dovecot_session: Dovecot) -> Dovecot:
    """The session's Dovecot with an empty INBOX (a new UIDVALIDITY: each test starts from a new folder)."""
    dovecot_session.clear()
    return dovecot_session

"""Fixtures of the mailbox tests: one real Dovecot per session (tests/support/dovecot.py), emptied per test."""

from __future__ import annotations

from tests.support.dovecot import dovecot, dovecot_session

__all__ = ["dovecot", "dovecot_session"]

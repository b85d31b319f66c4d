"""Fixtures of the health tests: the session's real Dovecot (tests/support/dovecot.py), emptied per test."""

from tests.support.dovecot import dovecot, dovecot_session

__all__ = ["dovecot", "dovecot_session"]

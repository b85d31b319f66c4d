"""Retry policy of the tasks: transient failures retry with exponential backoff and jitter, permanent ones never."""

from __future__ import annotations

from typing import Any

import httpx
from prefect.tasks import exponential_backoff
from sqlalchemy.exc import DBAPIError, OperationalError

from leadgen.errors import (
    AuthError,
    ConfigurationError,
    DatabaseUnavailable,
    MailboxRefused,
    MailboxUnavailable,
    NightWindowViolation,
    QuotaExceeded,
    YandexAPIError,
    YandexUnavailable,
)

# Failures that another attempt cannot fix: bad settings, refused credentials, the night window, a request
# Yandex rejected (4xx), and programming errors. The run fails at once with the reason.
PERMANENT: tuple[type[BaseException], ...] = (
    ConfigurationError,
    AuthError,
    NightWindowViolation,
    YandexAPIError,
    MailboxRefused,
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
    NotImplementedError,
)

# Failures that usually pass: outages, 429s that outlived the client's own retries, a database that is
# restarting or locked, network errors, and a rate-limit slot that did not come in time.
TRANSIENT: tuple[type[BaseException], ...] = (
    YandexUnavailable,
    QuotaExceeded,
    MailboxUnavailable,
    DatabaseUnavailable,
    OperationalError,
    httpx.TransportError,
    TimeoutError,
    ConnectionError,
)

RETRIES = 3
# 10 s, 20 s, 40 s, each stretched by up to 50 % at random so parallel runs do not retry in lock-step.
RETRY_DELAYS = exponential_backoff(backoff_factor=10)
RETRY_JITTER = 0.5


def is_transient(exc: BaseException) -> bool:
    """Should a task that raised `exc` be tried again?"""
    if isinstance(exc, PERMANENT):
        return False
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, TRANSIENT)


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """`retry_condition_fn` of every retried task: False for permanent errors, so Prefect fails fast."""
    try:
        state.result()
    except BaseException as exc:  # the task's own exception, re-raised by State.result()
        return is_transient(exc)
    return False


def retry_options(retries: int = RETRIES) -> dict[str, Any]:
    """Keyword arguments for `@task(...)`: retries, backoff with jitter, and the transient-only condition."""
    return {
        "retries": retries,
        "retry_delay_seconds": RETRY_DELAYS,
        "retry_jitter_factor": RETRY_JITTER,
        "retry_condition_fn": retry_on_transient,
    }

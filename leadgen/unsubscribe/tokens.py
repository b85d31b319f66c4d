"""Signed one-click unsubscribe tokens: each binds one recipient address to one message, URL-safe."""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from itsdangerous import BadData, URLSafeSerializer
from pydantic import SecretStr

from leadgen.errors import ConfigurationError
from leadgen.settings import Settings

# No leadgen.outreach import here: leadgen.outreach.send_run imports this module.

# Distinguishes these signatures from any other use of the same secret; bump the version to void every token.
SIGNATURE_SALT = "leadgen.unsubscribe.v1"
MIN_SECRET_CHARS = 32
MAX_TOKEN_CHARS = 1024  # a real token is ~100-200 characters; longer input is refused before any work
LINK_PATH = "/u/"
LOG_PREFIX_CHARS = 8
TOKEN_CHARS = frozenset(
    string.ascii_letters + string.digits + "-_."
)  # base64url and itsdangerous's separator
KEY_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass(frozen=True, slots=True)
class UnsubscribeRequest:
    """What a valid token says: who asked to be removed, from which message (None for a link made by hand)."""

    email: str
    message_id: str | None = None


def bare_message_id(message_id: str, /) -> str:
    """`<3f9c…@x.ru>` -> `3f9c…@x.ru` (the token carries the id without its angle brackets)."""
    return message_id.strip().removeprefix("<").removesuffix(">").strip()


def token_prefix(token: str, /) -> str:
    """The part of a token that may appear in logs (anything but URL-safe characters shown as `?`)."""
    return "".join(c if c in TOKEN_CHARS else "?" for c in token[:LOG_PREFIX_CHARS]) + "…"


class UnsubscribeSigner:
    """Signs and verifies tokens with HMAC-SHA256 (itsdangerous; the comparison is constant-time).

    >>> signer = UnsubscribeSigner("x" * 32)
    >>> signer.verify(signer.sign("Anna@Clinic.ru", message_id="<m1@leadgen>"))
    UnsubscribeRequest(email='anna@clinic.ru', message_id='m1@leadgen')
    """

    def __init__(self, secret: str | SecretStr) -> None:
        key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if len(key) < MIN_SECRET_CHARS:
            raise ConfigurationError(
                f"UNSUBSCRIBE_SECRET is too short (at least {MIN_SECRET_CHARS} characters); {KEY_HINT}"
            )
        self._serializer = URLSafeSerializer(
            key, salt=SIGNATURE_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )

    def __repr__(self) -> str:
        return "UnsubscribeSigner(<secret hidden>)"

    def sign(self, email: str, /, *, message_id: str | None = None) -> str:
        """A URL-safe token for `email` (trimmed, lower-case) and, when given, the message that carries it."""
        payload = [email.strip().lower()]
        if message_id and bare_message_id(message_id):
            payload.append(bare_message_id(message_id))
        return str(self._serializer.dumps(payload))

    def verify(self, token: str, /) -> UnsubscribeRequest | None:
        """The request a token carries, or None when it is tampered, truncated, foreign or malformed."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        try:
            payload: Any = self._serializer.loads(token)
        except BadData:
            return None
        if not isinstance(payload, list) or not 1 <= len(payload) <= 2:
            return None
        if not all(isinstance(item, str) and item for item in payload) or "@" not in payload[0]:
            return None
        return UnsubscribeRequest(payload[0], payload[1] if len(payload) == 2 else None)


@dataclass(frozen=True, slots=True)
class UnsubscribeLinks:
    """Builds the one-click URL a message carries: `<UNSUBSCRIBE_BASE_URL>/u/<token>`."""

    base_url: str
    signer: UnsubscribeSigner

    def url(self, email: str, /, *, message_id: str | None = None) -> str:
        token = self.signer.sign(email, message_id=message_id)
        return f"{self.base_url}{LINK_PATH}{quote(token, safe='')}"

    @classmethod
    def from_settings(cls, settings: Settings, /) -> UnsubscribeLinks | None:
        """None when UNSUBSCRIBE_BASE_URL is unset; ConfigurationError when it is set without a usable secret."""
        if not settings.unsubscribe_base_url:
            return None
        return cls(settings.unsubscribe_base_url, signer_from_settings(settings))


def signer_from_settings(settings: Settings, /) -> UnsubscribeSigner:
    """The signer of UNSUBSCRIBE_SECRET; ConfigurationError (one line) when it is missing or too short."""
    if settings.unsubscribe_secret is None or not settings.unsubscribe_secret.get_secret_value():
        raise ConfigurationError(f"UNSUBSCRIBE_SECRET is not set: one-click links need it; {KEY_HINT}")
    return UnsubscribeSigner(settings.unsubscribe_secret)

"""One-click unsubscribe (RFC 8058): signed tokens, the links messages carry, and a small ASGI service (app.py)."""

from leadgen.unsubscribe.tokens import (
    LINK_PATH,
    UnsubscribeLinks,
    UnsubscribeRequest,
    UnsubscribeSigner,
    bare_message_id,
    signer_from_settings,
    token_prefix,
)

__all__ = [
    "LINK_PATH",
    "UnsubscribeLinks",
    "UnsubscribeRequest",
    "UnsubscribeSigner",
    "bare_message_id",
    "signer_from_settings",
    "token_prefix",
]

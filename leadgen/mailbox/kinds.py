"""What an inbound message is: its kind and the facts the outreach loop acts on (shared by classifier and effects)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class MailKind(enum.StrEnum):
    HARD_BOUNCE = "hard_bounce"  # permanent delivery failure (5.x.x, "user unknown"): suppress the address
    SOFT_BOUNCE = "soft_bounce"  # temporary failure (4.x.x, mailbox full, spam filter; a delay DSN with
    # extra["delayed"] set): count per address
    AUTO_REPLY = "auto_reply"  # out-of-office, vacation, ticket robots (RFC 3834): record only
    REPLY = "reply"  # a person answered: stop mailing the company
    UNSUBSCRIBE = "unsubscribe"  # a person asked to be left alone: opt-out
    OTHER = "other"  # anything else (newsletters, delivered/relayed DSNs, read receipts, spam)


BOUNCES = frozenset({MailKind.HARD_BOUNCE, MailKind.SOFT_BOUNCE})


@dataclass(frozen=True, slots=True)
class Classification:
    """The verdict on one raw message; `reason` says which rule decided (e.g. `dsn`, `exim`, `rfc3834`)."""

    kind: MailKind
    reason: str
    recipients: tuple[str, ...] = ()  # failed recipients of a bounce, lowercase, in order of appearance
    status: str | None = None  # enhanced status code of a bounce, e.g. "5.1.1"
    message_id: str | None = None  # Message-ID of the original (our) message when found, in <angle brackets>
    references: tuple[str, ...] = ()  # every Message-ID the message points at (In-Reply-To, References, the
    # returned message's own Message-ID inside a DSN), in <angle brackets>, most specific first
    sender: str | None = None  # the From address of the inbound message, lowercase
    inbound_message_id: str | None = None  # the inbound message's own Message-ID
    subject: str | None = None
    date: datetime | None = None
    excerpt: str | None = None  # first lines a person wrote (replies, unsubscribe requests), quotes stripped
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON object `leadgen mailbox classify` prints."""
        return {
            "kind": str(self.kind),
            "recipients": list(self.recipients),
            "status": self.status,
            "message_id": self.message_id,
        }

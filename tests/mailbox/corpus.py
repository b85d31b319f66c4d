"""The labelled corpus of inbound messages in tests/fixtures/mail (labels.json: file → expected summary)."""

from __future__ import annotations

import json
from pathlib import Path

MAIL_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
BOUNCE_KINDS = frozenset({"hard_bounce", "soft_bounce"})


def labels() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads((MAIL_DIR / "labels.json").read_text(encoding="utf-8"))
    return data


def raw(name: str) -> bytes:
    return (MAIL_DIR / name).read_bytes()

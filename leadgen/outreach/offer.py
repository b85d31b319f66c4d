"""The offer file (TOML or YAML): what we sell, why it helps, who sends it and how to unsubscribe."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from leadgen.errors import OfferInvalid, OfferMissing

REQUIRED_OFFER = ("product", "benefit", "call_to_action")
REQUIRED_SENDER = ("name", "company", "email", "address")


@dataclass(frozen=True, slots=True)
class OfferBrief:
    """What the email proposes and who signs it; every fact a draft may state comes from here."""

    product: str
    benefit: str
    call_to_action: str
    sender_name: str
    sender_company: str
    sender_email: str
    physical_address: str
    unsubscribe_text: str
    sender_title: str = ""
    sender_phone: str = ""
    sender_website: str = ""
    facts: tuple[str, ...] = field(default_factory=tuple)

    @property
    def fingerprint(self) -> str:
        """Stable hash of the offer; part of the draft cache key."""
        payload = json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @property
    def text(self) -> str:
        """All offer text in one string: the allow-list source for links, emails, phones and prices."""
        parts = [
            self.product,
            self.benefit,
            self.call_to_action,
            self.sender_name,
            self.sender_title,
            self.sender_company,
            self.sender_email,
            self.sender_phone,
            self.sender_website,
            self.physical_address,
            self.unsubscribe_text,
            *self.facts,
        ]
        return "\n".join(p for p in parts if p)


def parse_offer(data: dict[str, Any], /, *, source: str = "offer") -> OfferBrief:
    """Build an OfferBrief from the parsed file: tables `[offer]`, `[sender]`, `[unsubscribe]`."""
    offer = _table(data, "offer", source)
    sender = _table(data, "sender", source)
    unsubscribe = data.get("unsubscribe") or {}
    if not isinstance(unsubscribe, dict):
        raise OfferInvalid(f"{source}: [unsubscribe] must be a table")
    missing = [f"offer.{k}" for k in REQUIRED_OFFER if not _text(offer.get(k))]
    missing += [f"sender.{k}" for k in REQUIRED_SENDER if not _text(sender.get(k))]
    if missing:
        raise OfferInvalid(f"{source}: missing {', '.join(missing)}")
    facts = offer.get("facts") or []
    if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
        raise OfferInvalid(f"{source}: offer.facts must be a list of strings")
    return OfferBrief(
        product=_text(offer["product"]),
        benefit=_text(offer["benefit"]),
        call_to_action=_text(offer["call_to_action"]),
        sender_name=_text(sender["name"]),
        sender_title=_text(sender.get("title")),
        sender_company=_text(sender["company"]),
        sender_email=_text(sender["email"]),
        sender_phone=_text(sender.get("phone")),
        sender_website=_text(sender.get("website")),
        physical_address=_text(sender["address"]),
        unsubscribe_text=_text(unsubscribe.get("text"))
        or "Если вы не хотите получать от нас письма, ответьте на это письмо словом «отписаться».",
        facts=tuple(f.strip() for f in facts if f.strip()),
    )


def load_offer(path: Path | str, /) -> OfferBrief:
    """Read an offer file; `.toml` via tomllib, `.yaml`/`.yml` via PyYAML (safe loader)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise OfferMissing(
            f"offer file {path} does not exist: copy offer.example.toml to {path} and edit it "
            "(or set OUTREACH_OFFER_FILE)"
        ) from exc
    except OSError as exc:
        raise OfferInvalid(f"cannot read offer file {path}: {exc.strerror or exc}") from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(raw.decode("utf-8"))
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise OfferInvalid(f"offer file {path} does not parse: {exc}") from exc
    if not isinstance(data, dict):
        raise OfferInvalid(f"offer file {path} must hold tables [offer] and [sender]")
    return parse_offer(data, source=str(path))


def _table(data: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise OfferInvalid(f"{source}: missing table [{name}]")
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(str(value).split()) if not isinstance(value, str) else value.strip()

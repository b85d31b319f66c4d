"""Offer files: TOML and YAML, the shipped example, and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from leadgen.errors import ConfigurationError, OfferInvalid, OfferMissing
from leadgen.outreach.offer import load_offer
from tests.outreach.factories import OFFER_DATA

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_example_loads() -> None:
    offer = load_offer(ROOT / "offer.example.toml")
    assert offer.product and offer.benefit and offer.call_to_action
    assert offer.physical_address and offer.unsubscribe_text
    assert "4 900 ₽" in offer.text


def test_yaml_equals_toml(tmp_path: Path) -> None:
    path = tmp_path / "offer.yaml"
    path.write_text(yaml.safe_dump(OFFER_DATA, allow_unicode=True), encoding="utf-8")
    offer = load_offer(path)
    assert offer.sender_email == "anna@dentaplan.example"
    assert offer.facts == ("Тариф для одной клиники — 4 900 ₽ в месяц.",)
    assert offer.fingerprint == load_offer(path).fingerprint


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[offer]\nproduct = 'x'\n", "missing table [sender]"),
        ("[offer]\nproduct='x'\n[sender]\nname='a'\n", "missing offer.benefit"),
        ("not toml = = =", "does not parse"),
    ],
)
def test_bad_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "offer.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(OfferInvalid, match=re.escape(message)):
        load_offer(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OfferMissing, match=r"copy offer\.example\.toml"):
        load_offer(tmp_path / "nope.toml")


def test_missing_file_is_a_bad_setting(tmp_path: Path) -> None:
    """A missing offer file is a setting to fix (exit 2) and still an OfferInvalid for the stage handlers."""
    with pytest.raises(OfferMissing) as caught:
        load_offer(tmp_path / "nope.toml")
    assert isinstance(caught.value, ConfigurationError) and isinstance(caught.value, OfferInvalid)

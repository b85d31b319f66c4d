"""Tokens: they bind address and message, are URL-safe, and a tampered, truncated or foreign one is refused."""

from __future__ import annotations

import string
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from leadgen.errors import ConfigurationError
from leadgen.outreach.message import new_message_id
from leadgen.settings import Settings
from leadgen.unsubscribe import UnsubscribeLinks, UnsubscribeRequest, UnsubscribeSigner, token_prefix
from tests.unsubscribe.conftest import SECRET

SIGNER = UnsubscribeSigner(SECRET)
MESSAGE_ID = new_message_id("dentaplan.example")
URL_SAFE = set(string.ascii_letters + string.digits + "-_.")


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_round_trip_binds_address_and_message() -> None:
    token = SIGNER.sign(" Info@Klinika-Ulybka.RU ", message_id=MESSAGE_ID)
    assert set(token) <= URL_SAFE
    assert SIGNER.verify(token) == UnsubscribeRequest("info@klinika-ulybka.ru", MESSAGE_ID.strip("<>"))
    assert SIGNER.verify(SIGNER.sign("info@klinika-ulybka.ru")) == UnsubscribeRequest(
        "info@klinika-ulybka.ru"
    )


def test_each_address_and_message_gets_its_own_token() -> None:
    tokens = {
        SIGNER.sign("anna@clinic.ru", message_id=MESSAGE_ID),
        SIGNER.sign("boss@clinic.ru", message_id=MESSAGE_ID),
        SIGNER.sign("anna@clinic.ru", message_id=new_message_id("dentaplan.example")),
        SIGNER.sign("anna@clinic.ru"),
    }
    assert len(tokens) == 4


def test_a_token_cannot_be_rebound_to_another_address() -> None:
    """Splice address B's payload onto the signature of A's token: refused."""
    token_a = SIGNER.sign("anna@clinic.ru", message_id=MESSAGE_ID)
    token_b = SIGNER.sign("victim@other.ru", message_id=MESSAGE_ID)
    payload_b, _ = token_b.split(".")
    _, signature_a = token_a.split(".")
    assert SIGNER.verify(f"{payload_b}.{signature_a}") is None


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda t: t[:-1], id="truncated-by-one"),
        pytest.param(lambda t: t[: len(t) // 2], id="truncated-half"),
        pytest.param(lambda t: t.split(".")[0], id="no-signature"),
        pytest.param(lambda t: t + "A", id="extended"),
        pytest.param(lambda t: ("B" if t[0] != "B" else "C") + t[1:], id="payload-char"),
        pytest.param(lambda t: t.replace(".", ".x", 1), id="signature-prefix"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: "x" * 5000, id="oversized"),
        pytest.param(lambda t: "not a token", id="garbage"),
        pytest.param(lambda t: quote(t) + "%00", id="nul"),
    ],
)
def test_tampered_tokens_are_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    token = SIGNER.sign("anna@clinic.ru", message_id=MESSAGE_ID)
    assert SIGNER.verify(mutate(token)) is None


def test_a_token_signed_with_another_secret_is_refused() -> None:
    foreign = UnsubscribeSigner("another-deployment-secret-abcdefghijkl")
    assert SIGNER.verify(foreign.sign("anna@clinic.ru", message_id=MESSAGE_ID)) is None


@given(
    email=st.emails(),
    message_id=st.one_of(st.none(), st.text(min_size=1, max_size=80).filter(lambda s: s.strip("<> \t\n"))),
    position=st.integers(min_value=0),
    char=st.sampled_from(sorted(URL_SAFE)),
)
def test_no_single_character_change_forges_another_request(
    email: str, message_id: str | None, position: int, char: str
) -> None:
    """Any one-character change is refused or (unused base64 bits of the last character) means the same."""
    token = SIGNER.sign(email, message_id=message_id)
    original = SIGNER.verify(token)
    assert original is not None and original.email == email.strip().lower()
    i = position % len(token)
    changed = SIGNER.verify(token[:i] + char + token[i + 1 :])
    assert changed is None or changed == original


def test_secret_is_required_long_and_never_shown() -> None:
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        UnsubscribeSigner("short")
    assert SECRET not in repr(SIGNER)
    assert token_prefix(SIGNER.sign("anna@clinic.ru")).endswith("…")
    assert len(token_prefix(SIGNER.sign("anna@clinic.ru"))) == 9
    assert token_prefix("ab\ncd\x1b[31m") == "ab?cd??3…"  # a hostile path cannot forge log lines


def test_links_from_settings() -> None:
    assert UnsubscribeLinks.from_settings(settings()) is None
    with pytest.raises(ConfigurationError, match="UNSUBSCRIBE_SECRET is not set"):
        UnsubscribeLinks.from_settings(settings(unsubscribe_base_url="https://unsub.dentaplan.example"))
    links = UnsubscribeLinks.from_settings(
        settings(unsubscribe_base_url="https://unsub.dentaplan.example/", unsubscribe_secret=SECRET)
    )
    assert links is not None
    url = links.url("anna@clinic.ru", message_id=MESSAGE_ID)
    assert url.startswith("https://unsub.dentaplan.example/u/")
    assert SIGNER.verify(url.rsplit("/", 1)[1]) == UnsubscribeRequest(
        "anna@clinic.ru", MESSAGE_ID.strip("<>")
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://unsub.dentaplan.example", "https://unsub.dentaplan.example"),
        ("https://dentaplan.example/unsubscribe/", "https://dentaplan.example/unsubscribe"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("", None),
    ],
)
def test_base_url_accepted(value: str, expected: str | None) -> None:
    assert settings(unsubscribe_base_url=value).unsubscribe_base_url == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://unsub.dentaplan.example", "must be https"),
        ("http://10.0.0.5:8080", "must be https"),
        ("ftp://unsub.dentaplan.example", "expected an https URL"),
        ("unsub.dentaplan.example", "expected an https URL"),
        ("https://unsub.dentaplan.example/?id=1", "without query"),
        ("https://user:pw@unsub.dentaplan.example", "credentials"),
    ],
)
def test_base_url_refused(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(unsubscribe_base_url=value)


def test_the_old_setting_is_refused_with_directions() -> None:
    with pytest.raises(ValidationError, match=r"OUTREACH_UNSUBSCRIBE_URL is replaced.*UNSUBSCRIBE_BASE_URL"):
        settings(outreach_unsubscribe_url="https://dentaplan.example/u")
    assert settings(outreach_unsubscribe_url="").outreach_unsubscribe_url is None

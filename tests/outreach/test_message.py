"""Message building: no header injection, opaque Message-ID, List-Unsubscribe (RFC 2369/8058), footer."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadgen.outreach.message import (
    Unsubscribe,
    build_message,
    header_text,
    new_message_id,
)
from leadgen.unsubscribe import UnsubscribeLinks, UnsubscribeSigner
from tests.outreach.factories import make_offer

OFFER = make_offer()
DATE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SIGNER = UnsubscribeSigner("test-secret-" + "k" * 32)
LINKS = UnsubscribeLinks("https://unsub.dentaplan.example", SIGNER)
MESSAGE_ID = new_message_id("dentaplan.example")


def build(
    subject: str = "Тема", unsubscribe: Unsubscribe | None = None, **kw: object
) -> email.message.EmailMessage:
    values: dict[str, object] = {
        "subject": subject,
        "body": "Здравствуйте!\n\nТекст письма.",
        "to_email": "info@clinic.ru",
        "from_address": "robot@dentaplan.example",
        "offer": OFFER,
        "message_id": MESSAGE_ID,
        "unsubscribe": unsubscribe or Unsubscribe(mailto="unsub@dentaplan.example"),
        "date": DATE,
    }
    values.update(kw)
    return build_message(**values)  # type: ignore[arg-type]


def reparse(msg: email.message.EmailMessage) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(msg.as_bytes(policy=email.policy.SMTP), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


@pytest.mark.parametrize(
    "subject",
    [
        "ООО Ромашка\r\nBcc: victim@evil.example",
        "Ромашка\nX-Injected: 1",
        "Ромашка\rTo: other@evil.example",
        "Ромашка\u2028Bcc: a@b.c",
    ],
)
def test_crlf_in_subject_cannot_add_headers(subject: str) -> None:
    parsed = reparse(build(subject))
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None
    assert parsed.get_all("To") == ["info@clinic.ru"]
    assert "\n" not in str(parsed["Subject"])


def test_crlf_in_sender_name_cannot_add_headers() -> None:
    offer = make_offer(sender__name="Анна\r\nBcc: victim@evil.example")
    parsed = reparse(build(offer=offer))
    assert parsed["Bcc"] is None
    assert "Анна" in str(parsed["From"])


@given(st.text(max_size=200))
def test_any_subject_yields_exactly_the_expected_headers(subject: str) -> None:
    parsed = reparse(build(subject))
    names = sorted({k.lower() for k in parsed.keys()})
    assert names == sorted(
        [
            "from",
            "to",
            "reply-to",
            "subject",
            "date",
            "message-id",
            "list-unsubscribe",
            "content-type",
            "content-transfer-encoding",
            "mime-version",
        ]
    )
    # Folding may drop the space between two RFC 2047 encoded words; the text itself survives.
    assert "".join(str(parsed["Subject"]).split()) == "".join(header_text(subject).split())


def test_message_id_is_random_opaque_and_keeps_the_sender_domain() -> None:
    ids = [new_message_id("Dentaplan.Example") for _ in range(200)]
    assert len(set(ids)) == 200
    for value in ids:
        assert re.fullmatch(r"<[0-9a-f]{32}@dentaplan\.example>", value), value
    assert build()["Message-ID"] == MESSAGE_ID


def test_list_unsubscribe_mailto_only_has_no_one_click() -> None:
    msg = build()
    assert msg["List-Unsubscribe"] == "<mailto:unsub@dentaplan.example?subject=unsubscribe>"
    assert msg["List-Unsubscribe-Post"] is None


def test_list_unsubscribe_with_base_url_is_one_click_and_survives_reparsing() -> None:
    msg = build(unsubscribe=Unsubscribe(mailto="unsub@dentaplan.example", links=LINKS))
    parsed = reparse(msg)
    value = str(parsed["List-Unsubscribe"])
    uris = [part.strip().removeprefix("<").removesuffix(">") for part in value.split(",")]
    # RFC 8058: the https URI (first, clients take the leftmost they support) and the mailto fallback.
    assert len(uris) == 2
    https, mailto = uris
    assert https.startswith("https://unsub.dentaplan.example/u/")
    assert mailto == "mailto:unsub@dentaplan.example?subject=unsubscribe"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = https.rsplit("/", 1)[1]
    verified = SIGNER.verify(token)
    assert verified is not None and verified.email == "info@clinic.ru"
    assert verified.message_id == MESSAGE_ID.strip("<>")
    # The footer shows the same one-click link.
    body = parsed.get_content().replace("\r\n", "\n")
    assert https in body.split("\n-- \n", 1)[1]


@pytest.mark.parametrize("policy", [email.policy.SMTP, email.policy.default, None])
def test_list_unsubscribe_is_sent_verbatim_never_encoded(policy: email.policy.Policy | None) -> None:
    """Mail clients read List-Unsubscribe raw: a long one-click URI must not become an RFC 2047 encoded-word."""
    msg = build(
        to_email="very.long.address.of.the.reception.desk@stomatologiya-ulybka-plus.ru",
        unsubscribe=Unsubscribe(mailto="unsub@dentaplan.example", links=LINKS),
    )
    raw = (msg.as_bytes(policy=policy) if policy else msg.as_bytes()).decode("ascii")
    head = raw.split("\r\n\r\n" if policy is email.policy.SMTP else "\n\n", 1)[0]
    value = re.search(r"^List-Unsubscribe: (.*?)(?=^\S)", head, flags=re.M | re.S)
    assert value is not None and "=?" not in value.group(1)
    url = LINKS.url(
        "very.long.address.of.the.reception.desk@stomatologiya-ulybka-plus.ru", message_id=msg["Message-ID"]
    )
    assert len(url) > 100 and f"List-Unsubscribe: <{url}>," in head
    assert " <mailto:unsub@dentaplan.example?subject=unsubscribe>" in head
    assert max(len(line) for line in raw.splitlines()) <= 998


@pytest.mark.parametrize(
    "value",
    [
        "<https://x.example/u/1>\r\nBcc: victim@evil.example",
        "https://x.example/u/1",
        "<https://x.example/u/ 1>",
        "",
    ],
)
def test_list_unsubscribe_accepts_only_a_list_of_uris(value: str) -> None:
    msg = build()
    del msg["List-Unsubscribe"]
    with pytest.raises(ValueError):
        msg["List-Unsubscribe"] = value


def test_each_message_carries_its_own_link() -> None:
    unsubscribe = Unsubscribe(links=LINKS)
    first = build(unsubscribe=unsubscribe)
    other_row = build(unsubscribe=unsubscribe, message_id=new_message_id("dentaplan.example"))
    other_person = build(unsubscribe=unsubscribe, to_email="boss@clinic.ru")
    values = {str(m["List-Unsubscribe"]) for m in (first, other_row, other_person)}
    assert len(values) == 3
    assert str(first["List-Unsubscribe"]) == str(build(unsubscribe=unsubscribe)["List-Unsubscribe"])


def test_without_base_url_there_is_no_http_link_and_no_one_click() -> None:
    msg = build(unsubscribe=Unsubscribe(mailto=None))
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
    assert "/u/" not in msg.get_content()


def test_footer_is_added_by_code() -> None:
    body = reparse(build()).get_content().replace("\r\n", "\n")
    assert body.startswith("Здравствуйте!")
    footer = body.split("\n-- \n", 1)[1]
    assert OFFER.physical_address in footer
    assert OFFER.unsubscribe_text in footer
    assert "mailto:unsub@dentaplan.example?subject=unsubscribe" in footer
    assert "ООО «ДентаПлан»" in footer


def test_reply_to_is_the_offer_sender() -> None:
    msg = build()
    assert str(msg["Reply-To"]).endswith("<anna@dentaplan.example>")
    assert "Reply-To" not in build(from_address="anna@dentaplan.example")

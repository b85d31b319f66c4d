"""The send stage carries one-click links: through the SMTP sink, out to the service, back into the opt-outs."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, select

from leadgen.db.engine import write_scope
from leadgen.db.models import MessageStatus, OutreachMessage
from leadgen.errors import ConfigurationError
from leadgen.outreach import StaticMxResolver, send_queued
from leadgen.outreach.optout import opt_out_reason
from leadgen.settings import Settings
from leadgen.unsubscribe import UnsubscribeSigner
from leadgen_sandbox.smtp_sink import SmtpSink
from tests.outreach.factories import MONDAY_NOON, make_offer, queued_messages
from tests.unsubscribe.conftest import SECRET

OFFER = make_offer()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(tls="starttls", auth=("robot", "secret")) as s:
        yield s


def send_settings(settings: Settings, sink: SmtpSink, **kw: object) -> Settings:
    env: dict[str, object] = {"outreach_spacing_seconds": 0, "outreach_spacing_jitter_seconds": 0}
    env |= sink.settings_env("yandex") | sink.settings_env("gmail") | kw
    return Settings.model_validate(settings.model_dump() | env)


def send(engine: Engine, settings: Settings):  # type: ignore[no-untyped-def]
    resolver = StaticMxResolver({f"clinic{i}.ru": ["mx.yandex.net"] for i in range(5)})
    return send_queued(engine, settings, offer=OFFER, now=MONDAY_NOON, limit=10, resolver=resolver)


def test_sent_messages_carry_links_that_unsubscribe_their_recipient(
    engine: Engine, settings: Settings, sink: SmtpSink, service: str, signer: UnsubscribeSigner
) -> None:
    st = send_settings(settings, sink, unsubscribe_base_url=service, unsubscribe_secret=SECRET)
    with write_scope(engine) as s:
        queued_messages(s, 2)
    assert send(engine, st).sent == 2
    received = {m.rcpt_tos[0]: m.parsed() for m in sink.messages}
    assert set(received) == {"director@clinic0.ru", "director@clinic1.ru"}
    message = received["director@clinic0.ru"]
    https, mailto = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    assert https.startswith(f"{service}/u/") and mailto.startswith("mailto:")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    verified = signer.verify(https.rsplit("/", 1)[1])
    assert verified is not None and f"<{verified.message_id}>" == message["Message-ID"]
    with write_scope(engine) as s:
        row_ids = s.scalars(
            select(OutreachMessage.message_id).where(OutreachMessage.status == MessageStatus.SENT)
        )
        assert message["Message-ID"] in set(row_ids)

    assert httpx.post(https, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    with write_scope(engine) as s:
        assert opt_out_reason(s, "director@clinic0.ru") == "opted out: email"
        assert opt_out_reason(s, "director@clinic1.ru") is None


def test_a_base_url_without_a_secret_stops_the_send_before_anything_goes_out(
    engine: Engine, settings: Settings, sink: SmtpSink
) -> None:
    st = send_settings(settings, sink, unsubscribe_base_url="https://unsub.dentaplan.example")
    with write_scope(engine) as s:
        queued_messages(s, 1)
    with pytest.raises(ConfigurationError, match="UNSUBSCRIBE_SECRET is not set"):
        send(engine, st)
    assert sink.count == 0

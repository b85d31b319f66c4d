"""apply_classification on SQLite and Postgres: every kind's effect, matching, idempotency, the soft-bounce limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadgen.db.models import (
    AddressBounce,
    Company,
    Contact,
    InboundMessage,
    MessageStatus,
    OptOut,
    OutreachMessage,
)
from leadgen.mailbox.effects import Outcome, apply_classification, match_message
from leadgen.mailbox.kinds import Classification, MailKind
from leadgen.outreach.claims import row_opt_out_reason
from leadgen.outreach.optout import opt_out_reason
from leadgen.settings import Settings
from tests.outreach.factories import add_company

NOW = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
SENT = NOW - timedelta(days=1)
OUR_DOMAIN = "dentaplan.example"


@pytest.fixture
def loop_settings(db_url: str) -> Settings:
    return Settings(_env_file=None, database_url=db_url, outreach_soft_bounce_limit=3)  # type: ignore[call-arg]


def message(
    session: Session,
    company: Company,
    to_email: str,
    *,
    status: MessageStatus = MessageStatus.SENT,
    campaign: str = "default",
    sent_at: datetime | None = SENT,
) -> OutreachMessage:
    """An outreach row of `company` to `to_email`; rows that went out carry a Message-ID."""
    contact_id = session.scalar(
        select(Contact.id).where(Contact.company_id == company.id, func.lower(Contact.value) == to_email)
    )
    row = OutreachMessage(
        contact_id=contact_id,
        company_id=company.id,
        campaign=campaign,
        to_email=to_email,
        status=status,
        subject="CRM для вашей клиники",
        body="Здравствуйте! ...",
        sent_at=sent_at if status in (MessageStatus.SENT, MessageStatus.REPLIED) else None,
    )
    session.add(row)
    session.flush()
    if status not in (MessageStatus.DRAFTED, MessageStatus.QUEUED):
        row.message_id = f"<leadgen.{row.id}.{'a1b2c3' * 4}@{OUR_DOMAIN}>"
        session.flush()
    return row


def apply(session: Session, c: Classification, settings: Settings, *, uid: int | None = 101) -> Outcome:
    return apply_classification(
        session,
        c,
        mailbox="gmail",
        folder="INBOX",
        uidvalidity=1733560000,
        uid=uid,
        settings=settings,
        now=NOW,
    )


def hard_bounce(rcpt: str, original: str | None) -> Classification:
    return Classification(
        kind=MailKind.HARD_BOUNCE,
        reason="dsn",
        recipients=(rcpt,),
        status="5.1.1",
        message_id=original,
        references=(original,) if original else (),
        sender="mailer-daemon@googlemail.com",
        inbound_message_id="<5f1c.20261207@mx.google.com>",
        subject="Delivery Status Notification (Failure)",
        date=NOW - timedelta(hours=2),
    )


def soft_bounce(rcpt: str, n: int, status: str = "4.2.2") -> Classification:
    return Classification(
        kind=MailKind.SOFT_BOUNCE,
        reason="exim",
        recipients=(rcpt,),
        status=status,
        sender="mailer-daemon@mx.mail.ru",
        inbound_message_id=f"<E1soft-{n}@mx.mail.ru>",
        subject="Mail delivery failed: returning message to sender",
    )


def reply(
    sender: str, *refs: str, kind: MailKind = MailKind.REPLY, excerpt: str | None = None
) -> Classification:
    return Classification(
        kind=kind,
        reason="in-reply-to" if refs else "sender",
        message_id=refs[0] if refs else None,
        references=refs,
        sender=sender,
        inbound_message_id=f"<CAF{abs(hash((sender, refs, kind))) % 10**9}@mail.gmail.com>",
        subject="Re: CRM для вашей клиники",
        date=datetime(2026, 12, 7, 9, 12, tzinfo=UTC),
        excerpt=excerpt or "Добрый день! Интересно, пришлите, пожалуйста, презентацию.\nС уважением, Ирина",
    )


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- bounces ----------------------------------------------------------------------------------------------


def test_hard_bounce_marks_bounced_suppresses_and_is_applied_once(
    session: Session, loop_settings: Settings
) -> None:
    company = add_company(session, "ulybka-dent.ru", emails=("info@ulybka-dent.ru",))
    row = message(session, company, "info@ulybka-dent.ru")
    c = hard_bounce("Info@Ulybka-Dent.ru", row.message_id)

    first = apply(session, c, loop_settings)
    second = apply(session, c, loop_settings)

    assert first.recorded and first.outreach_message_id == row.id and first.company_id == company.id
    assert first.suppressed == ("info@ulybka-dent.ru",)
    assert second == Outcome(recorded=False, kind=MailKind.HARD_BOUNCE, effect="already recorded")
    session.refresh(row)
    assert row.status == MessageStatus.BOUNCED and "5.1.1" in (row.last_error or "")
    opt_out = session.scalars(select(OptOut)).one()
    assert (opt_out.value, opt_out.source) == ("info@ulybka-dent.ru", "bounce")
    assert "5.1.1" in (opt_out.reason or "")
    counter = session.scalars(select(AddressBounce)).one()
    assert (counter.hard_count, counter.soft_count, counter.last_status) == (1, 0, "5.1.1")
    inbound = session.scalars(select(InboundMessage)).one()
    assert inbound.kind == MailKind.HARD_BOUNCE and inbound.status_code == "5.1.1"
    assert inbound.recipients == ["info@ulybka-dent.ru"] and inbound.outreach_message_id == row.id
    assert inbound.effect and "suppressed info@ulybka-dent.ru" in inbound.effect
    assert opt_out_reason(session, "info@ulybka-dent.ru") == "opted out: email"


def test_bounce_without_headers_matches_the_latest_sent_row_to_the_recipient(
    session: Session, loop_settings: Settings
) -> None:
    company = add_company(session, "zub.ru", emails=("office@zub.ru",))
    older = message(session, company, "office@zub.ru", campaign="autumn", sent_at=SENT - timedelta(days=30))
    newer = message(session, company, "office@zub.ru", campaign="winter")
    other = add_company(session, "other.ru", emails=("office@other.ru",))
    message(session, other, "office@other.ru", campaign="winter")

    outcome = apply(session, hard_bounce("office@zub.ru", None), loop_settings)

    assert outcome.outreach_message_id == newer.id
    session.refresh(older)
    session.refresh(newer)
    assert (older.status, newer.status) == (MessageStatus.SENT, MessageStatus.BOUNCED)


def test_bounce_of_an_unknown_row_settles_it_with_the_evidence(
    session: Session, loop_settings: Settings
) -> None:
    company = add_company(session, "smile.ru", emails=("clinic@smile.ru",))
    row = message(session, company, "clinic@smile.ru", status=MessageStatus.UNKNOWN)
    assert row.sent_at is None

    outcome = apply(session, hard_bounce("clinic@smile.ru", row.message_id), loop_settings)

    session.refresh(row)
    assert row.status == MessageStatus.BOUNCED and row.sent_at == NOW
    assert row.meta["settled_by"] == {
        "kind": "hard_bounce",
        "inbound_id": outcome.inbound_id,
        "at": NOW.isoformat(),
    }


def test_soft_bounces_suppress_at_the_limit_and_never_count_twice(
    session: Session, loop_settings: Settings
) -> None:
    company = add_company(session, "dent-plus.ru", emails=("admin@dent-plus.ru",))
    message(session, company, "admin@dent-plus.ru")
    address = "admin@dent-plus.ru"

    for n in (1, 2):
        outcome = apply(session, soft_bounce(address, n), loop_settings, uid=200 + n)
        apply(session, soft_bounce(address, n), loop_settings, uid=200 + n)  # read again: nothing changes
        assert outcome.suppressed == () and f"soft bounce {n} of 3" in outcome.effect
    assert opt_out_reason(session, address) is None
    third = apply(session, soft_bounce(address, 3, status="4.2.2"), loop_settings, uid=203)

    assert third.suppressed == (address,)
    opt_out = session.scalars(select(OptOut)).one()
    assert (opt_out.source, opt_out.reason) == ("bounce", "3 soft bounces, last 4.2.2")
    assert session.scalars(select(AddressBounce.soft_count)).one() == 3
    assert count(session, InboundMessage) == 3


def test_a_hard_bounce_never_overrides_a_reply(session: Session, loop_settings: Settings) -> None:
    company = add_company(session, "late.ru", emails=("info@late.ru",))
    row = message(session, company, "info@late.ru", status=MessageStatus.REPLIED)

    apply(session, hard_bounce("info@late.ru", row.message_id), loop_settings)

    session.refresh(row)
    assert row.status == MessageStatus.REPLIED


# --- replies ----------------------------------------------------------------------------------------------


def test_reply_matched_by_references_stops_the_company(session: Session, loop_settings: Settings) -> None:
    company = add_company(
        session, "medstom.ru", emails=("info@medstom.ru", "zakaz@medstom.ru", "buh@medstom.ru")
    )
    sent = message(session, company, "info@medstom.ru")
    drafted = message(session, company, "zakaz@medstom.ru", status=MessageStatus.DRAFTED)
    queued = message(session, company, "buh@medstom.ru", status=MessageStatus.QUEUED)
    bystander = add_company(session, "another.ru", emails=("info@another.ru",))
    untouched = message(session, bystander, "info@another.ru", status=MessageStatus.QUEUED)
    # A colleague answers from another address; References carries a foreign id first, ours second.
    c = reply("irina.petrova@medstom.ru", "<unrelated@crm.medstom.ru>", sent.message_id or "")

    outcome = apply(session, c, loop_settings)

    assert outcome.outreach_message_id == sent.id and outcome.stopped == 2
    for row in (sent, drafted, queued, untouched):
        session.refresh(row)
    assert sent.status == MessageStatus.REPLIED
    assert (drafted.status, drafted.last_error) == (MessageStatus.SKIPPED, "company replied")
    assert (queued.status, queued.last_error) == (MessageStatus.SKIPPED, "company replied")
    assert untouched.status == MessageStatus.QUEUED
    session.refresh(company)
    assert company.replied_at == datetime(2026, 12, 7, 9, 12, tzinfo=UTC)
    inbound = session.scalars(select(InboundMessage)).one()
    assert (
        inbound.sender == "irina.petrova@medstom.ru" and inbound.excerpt and "презентацию" in inbound.excerpt
    )
    assert count(session, OptOut) == 0  # a reply is not an opt-out


def test_reply_without_headers_matches_by_sender_and_later_rows_are_refused(
    session: Session, loop_settings: Settings
) -> None:
    company = add_company(session, "belozub.ru", emails=("Director@Belozub.ru",))
    sent = message(session, company, "director@belozub.ru", status=MessageStatus.UNKNOWN)

    outcome = apply(session, reply("director@belozub.ru"), loop_settings)
    later = message(session, company, "director@belozub.ru", status=MessageStatus.QUEUED, campaign="spring")

    session.refresh(sent)
    assert outcome.outreach_message_id == sent.id
    assert sent.status == MessageStatus.REPLIED and sent.meta["settled_by"]["kind"] == "reply"
    assert row_opt_out_reason(session, later) == "company replied"  # what claim_next and dry runs check


def test_reply_from_a_contact_we_never_mailed_still_stops_its_company(
    session: Session, loop_settings: Settings
) -> None:
    company = add_company(
        session, "kristall-dent.ru", emails=("info@kristall-dent.ru", "glavvrach@kristall-dent.ru")
    )
    queued = message(session, company, "info@kristall-dent.ru", status=MessageStatus.QUEUED)

    outcome = apply(session, reply("glavvrach@kristall-dent.ru"), loop_settings)

    session.refresh(queued)
    assert outcome.outreach_message_id is None and outcome.company_id == company.id
    assert queued.status == MessageStatus.SKIPPED


# --- unsubscribe, auto-reply, other -----------------------------------------------------------------------


def test_unsubscribe_reply_opts_out_sender_and_recipient(session: Session, loop_settings: Settings) -> None:
    company = add_company(session, "alfa-stom.ru", emails=("info@alfa-stom.ru",))
    sent = message(session, company, "info@alfa-stom.ru")
    pending = message(session, company, "info@alfa-stom.ru", status=MessageStatus.QUEUED, campaign="spring")
    c = reply(
        "anna@alfa-stom.ru",
        sent.message_id or "",
        kind=MailKind.UNSUBSCRIBE,
        excerpt="Отпишите нас, пожалуйста.",
    )

    first = apply(session, c, loop_settings)
    apply(session, c, loop_settings)

    assert set(first.suppressed) == {"anna@alfa-stom.ru", "info@alfa-stom.ru"} and first.stopped == 1
    rows = session.execute(select(OptOut.value, OptOut.source, OptOut.reason).order_by(OptOut.value)).all()
    assert [(v, s) for v, s, _ in rows] == [("anna@alfa-stom.ru", "reply"), ("info@alfa-stom.ru", "reply")]
    assert rows[0][2] == "unsubscribe reply: Отпишите нас, пожалуйста."
    for row in (sent, pending):
        session.refresh(row)
    assert sent.status == MessageStatus.SENT
    assert (pending.status, pending.last_error) == (MessageStatus.SKIPPED, "opted out: email")
    assert row_opt_out_reason(session, pending) == "opted out: email"
    session.refresh(company)
    assert company.replied_at is None


@pytest.mark.parametrize("kind", [MailKind.AUTO_REPLY, MailKind.OTHER])
def test_auto_replies_and_others_are_recorded_only(
    session: Session, loop_settings: Settings, kind: MailKind
) -> None:
    company = add_company(session, "vacation.ru", emails=("info@vacation.ru",))
    sent = message(session, company, "info@vacation.ru")
    queued = message(session, company, "info@vacation.ru", status=MessageStatus.QUEUED, campaign="spring")

    outcome = apply(session, reply("info@vacation.ru", sent.message_id or "", kind=kind), loop_settings)

    assert outcome.recorded and outcome.effect == "recorded" and outcome.suppressed == ()
    for row in (sent, queued):
        session.refresh(row)
    assert (sent.status, queued.status) == (MessageStatus.SENT, MessageStatus.QUEUED)
    assert count(session, OptOut) == 0 and count(session, AddressBounce) == 0
    session.refresh(company)
    assert company.replied_at is None
    assert session.scalars(select(InboundMessage.kind)).one() == kind


def test_auto_reply_settles_an_unknown_row_as_sent(session: Session, loop_settings: Settings) -> None:
    company = add_company(session, "ooo.ru", emails=("info@ooo.ru",))
    row = message(session, company, "info@ooo.ru", status=MessageStatus.UNKNOWN)

    apply(session, reply("info@ooo.ru", row.message_id or "", kind=MailKind.AUTO_REPLY), loop_settings)

    session.refresh(row)
    assert row.status == MessageStatus.SENT and row.sent_at == NOW


def test_messages_without_uid_are_deduplicated_by_their_message_id(
    session: Session, loop_settings: Settings
) -> None:
    company = add_company(session, "maildir.ru", emails=("info@maildir.ru",))
    row = message(session, company, "info@maildir.ru")
    c = hard_bounce("info@maildir.ru", row.message_id)

    assert apply(session, c, loop_settings, uid=None).recorded
    assert not apply(session, c, loop_settings, uid=None).recorded
    assert count(session, InboundMessage) == 1
    assert session.scalars(select(AddressBounce.hard_count)).one() == 1


def test_a_rescan_after_a_uidvalidity_change_does_not_count_twice(
    session: Session, loop_settings: Settings
) -> None:
    company = add_company(session, "rescan.ru", emails=("admin@rescan.ru",))
    message(session, company, "admin@rescan.ru")
    c = soft_bounce("admin@rescan.ru", 1)
    args = {"mailbox": "gmail", "folder": "INBOX", "settings": loop_settings, "now": NOW}

    first = apply_classification(session, c, uidvalidity=1733560000, uid=41, **args)  # type: ignore[arg-type]
    rescan = apply_classification(session, c, uidvalidity=1765000000, uid=3, **args)  # type: ignore[arg-type]

    assert first.recorded and rescan.recorded and count(session, InboundMessage) == 2
    assert rescan.effect.startswith(f"seen before as inbound {first.inbound_id}; ")
    assert "bounce counted before, not again" in rescan.effect
    assert session.scalars(select(AddressBounce.soft_count)).one() == 1


def test_a_bounce_sharing_a_message_id_with_another_kind_still_counts(
    session: Session, loop_settings: Settings
) -> None:
    """Only a bounce of the same kind with the same Message-ID is a re-read; anything else is applied in full."""
    company = add_company(session, "clash.ru", emails=("info@clash.ru",))
    message(session, company, "info@clash.ru")
    soft = soft_bounce("info@clash.ru", 1)
    hard = replace(hard_bounce("info@clash.ru", None), inbound_message_id=soft.inbound_message_id)

    apply(session, soft, loop_settings, uid=1)
    outcome = apply(session, hard, loop_settings, uid=2)

    assert outcome.suppressed == ("info@clash.ru",)
    counter = session.scalars(select(AddressBounce)).one()
    assert (counter.soft_count, counter.hard_count) == (1, 1)


def test_match_prefers_the_original_message_id(session: Session) -> None:
    company = add_company(session, "two.ru", emails=("a@two.ru", "b@two.ru"))
    first = message(session, company, "a@two.ru")
    second = message(session, company, "b@two.ru")
    c = Classification(
        kind=MailKind.REPLY,
        reason="in-reply-to",
        message_id=second.message_id,
        references=(first.message_id or "", second.message_id or ""),
        sender="a@two.ru",
    )
    matched = match_message(session, c)
    assert matched is not None and matched.id == second.id

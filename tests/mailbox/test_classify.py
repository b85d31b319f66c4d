"""Per-rule tests of the inbound-mail classifier (DSN fields, text bounces, auto-replies, replies, opt-outs)."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from leadgen.mailbox import human, mime
from leadgen.mailbox.classify import classify
from leadgen.mailbox.dsn import address_of, parse_status_text, verdict
from leadgen.mailbox.kinds import MailKind
from leadgen.mailbox.severity import enhanced_status, severity
from tests.mailbox.corpus import raw

OURS = "<leadgen.7.0123456789abcdef01234567@leadpilot.example>"


def dsn(blocks: str, *, subject: str = "Undelivered Mail Returned to Sender", extra: str = "") -> bytes:
    return (
        "Return-Path: <>\nFrom: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n"
        f"To: anna@leadpilot.example\nSubject: {subject}\nAuto-Submitted: auto-replied\n{extra}MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nThe mail system\n\n"
        f"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n{blocks}\n"
        f"--B\nContent-Type: text/rfc822-headers\n\nMessage-ID: {OURS}\nFrom: anna@leadpilot.example\n\n--B--\n"
    ).encode()


def person(body: str, *, subject: str = "Re: Поставка", headers: str = "", charset: str = "utf-8") -> bytes:
    head = (
        "From: =?utf-8?b?0JjQstCw0L0=?= <ivan@zavod.example>\nTo: anna@leadpilot.example\n"
        f"Subject: {subject}\nDate: Tue, 08 Dec 2026 10:00:00 +0300\nMessage-ID: <r1@zavod.example>\n"
        f"In-Reply-To: {OURS}\nReferences: <older@leadpilot.example> {OURS}\n{headers}MIME-Version: 1.0\n"
        f"Content-Type: text/plain; charset={charset}\nContent-Transfer-Encoding: base64\n\n"
    )
    return head.encode() + base64.encodebytes(body.encode(charset))


# --- RFC 3464


def test_dsn_fields_are_parsed_per_recipient() -> None:
    statuses = parse_status_text(
        "Final-Recipient: rfc822; A@Example.org\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <a@example.org>:\n    User unknown\n\n"
        "Final-Recipient: rfc822;b@example.org\nOriginal-Recipient: rfc822;alias@example.org\n"
        "Action: delayed\nStatus: 4.4.1\n"
    )
    assert [s.addresses for s in statuses] == [("a@example.org",), ("alias@example.org", "b@example.org")]
    assert [s.action for s in statuses] == ["failed", "delayed"]
    assert statuses[0].diagnostic == "smtp; 550 5.1.1 <a@example.org>: User unknown"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rfc822; User@Example.ORG", "user@example.org"),
        ("rfc822;<user@example.org>", "user@example.org"),
        ("RFC822; user@example.org", "user@example.org"),
        ("rfc822;IMCEAEX-_o=Org_ou=Exchange_cn=Recipients_cn=user@example.org", None),
        ("x400; /c=ru/o=org/", None),
    ],
)
def test_address_of(value: str, expected: str | None) -> None:
    assert address_of(value) == expected


@pytest.mark.parametrize(
    ("block", "kind", "status"),
    [
        (
            "Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown",
            "hard_bounce",
            "5.1.1",
        ),
        (
            "Action: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full",
            "soft_bounce",
            "5.2.2",
        ),
        (
            "Action: failed\nStatus: 4.4.7\nDiagnostic-Code: X-Postfix; delivery time expired",
            "soft_bounce",
            "4.4.7",
        ),
        (
            "Action: delayed\nStatus: 4.4.1\nDiagnostic-Code: X-Postfix; connect timed out",
            "soft_bounce",
            "4.4.1",
        ),
        (
            "Action: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 550 5.1.1 <x@example.org> unknown",
            "hard_bounce",
            "5.1.1",
        ),
        (
            "Action: failed\nStatus: 5.7.1\nDiagnostic-Code: smtp; 554 5.7.1 rejected as spam",
            "soft_bounce",
            "5.7.1",
        ),
        (
            "Action: failed\nStatus: 5.7.1\nDiagnostic-Code: smtp; 550 5.7.1 No such user!",
            "hard_bounce",
            "5.7.1",
        ),
        ("Action: error\nStatus: 5.1.1", "hard_bounce", "5.1.1"),  # OpenSMTPD's non-standard action
    ],
)
def test_dsn_kind_and_status(block: str, kind: str, status: str) -> None:
    got = classify(dsn(f"Final-Recipient: rfc822; x@example.org\n{block}\n"))
    assert (str(got.kind), got.status, got.recipients) == (kind, status, ("x@example.org",))
    assert got.message_id == OURS
    assert got.reason in ("dsn", "dsn-delayed")


@pytest.mark.parametrize("action", ["delivered", "relayed", "expanded"])
def test_success_dsn_is_other(action: str) -> None:
    got = classify(dsn(f"Final-Recipient: rfc822; x@example.org\nAction: {action}\nStatus: 2.0.0\n"))
    assert got.kind is MailKind.OTHER and got.recipients == () and got.status is None


def test_mixed_dsn_reports_only_the_failed_recipient() -> None:
    got = classify(
        dsn(
            "Final-Recipient: rfc822; ok@example.org\nAction: delivered\nStatus: 2.0.0\n\n"
            "Final-Recipient: rfc822; gone@example.org\nAction: failed\nStatus: 5.1.1\n"
        )
    )
    assert got.kind is MailKind.HARD_BOUNCE and got.recipients == ("gone@example.org",)


def test_hard_wins_over_soft_in_a_multi_recipient_dsn() -> None:
    got = classify(
        dsn(
            "Final-Recipient: rfc822; full@example.org\nAction: failed\nStatus: 5.2.2\n\n"
            "Final-Recipient: rfc822; gone@example.org\nAction: failed\nStatus: 5.1.1\n"
        )
    )
    assert got.kind is MailKind.HARD_BOUNCE
    assert got.status == "5.1.1"
    assert set(got.recipients) == {"full@example.org", "gone@example.org"}


def test_verdict_without_action_uses_the_status_class() -> None:
    statuses = parse_status_text("Final-Recipient: rfc822; x@example.org\nStatus: 5.1.1\n")
    assert verdict(statuses).kind is MailKind.HARD_BOUNCE


# --- status codes and severity


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("host said: 550 5.1.1 <a@b.example>: User unknown", "5.1.1"),
        ("550-5.1.1 The email account that you tried to reach does not exist", "5.1.1"),
        ("<EXCH.local #5.1.1>", "5.1.1"),
        ("Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'", "5.1.10"),
        ("Status: 4.2.2", "4.2.2"),
        ("550 No such user here", None),
        ("Postfix 3.5.1 on 10.5.1.1", None),
    ],
)
def test_enhanced_status(text: str, code: str | None) -> None:
    assert enhanced_status(text) == code


@pytest.mark.parametrize(
    ("status", "text", "kind"),
    [
        (None, "550 No such user here", MailKind.HARD_BOUNCE),
        (None, "Нет такого пользователя", MailKind.HARD_BOUNCE),
        (None, "Адресат не существует", MailKind.HARD_BOUNCE),
        (None, "Mailbox is full", MailKind.SOFT_BOUNCE),
        (None, "ящик получателя переполнен", MailKind.SOFT_BOUNCE),
        (None, "452 Requested action not taken", MailKind.SOFT_BOUNCE),
        (None, "550 Requested action not taken", MailKind.HARD_BOUNCE),
        ("5.2.2", "", MailKind.SOFT_BOUNCE),
        ("4.1.1", "user unknown", MailKind.SOFT_BOUNCE),
        ("5.4.4", "Host or domain name not found", MailKind.HARD_BOUNCE),
    ],
)
def test_severity(status: str | None, text: str, kind: MailKind) -> None:
    assert severity(status, text) is kind


# --- text bounces


def test_text_bounce_without_a_report_part_uses_x_failed_recipients() -> None:
    message = (
        b"Return-Path: <>\nFrom: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: anna@leadpilot.example\n"
        b"Subject: Mail delivery failed: returning message to sender\nX-Failed-Recipients: Gone@Example.org\n\n"
        b"This message was created automatically by mail delivery software.\n\n"
        b"A message that you sent could not be delivered to one or more of its\nrecipients. "
        b"This is a permanent error. The following address(es) failed:\n\n  gone@example.org\n    Unrouteable address\n\n"
        b"------ This is a copy of the message, including all the headers. ------\n\n"
        b"Message-ID: <abc@leadpilot.example>\nFrom: anna@leadpilot.example\nTo: gone@example.org\n\nHello\n"
    )
    got = classify(message)
    assert got.kind is MailKind.HARD_BOUNCE
    assert got.recipients == ("gone@example.org",)
    assert got.status is None
    assert got.message_id == "<abc@leadpilot.example>"
    assert got.reason == "exim"


def test_quoted_original_addresses_are_not_failed_recipients() -> None:
    got = classify(raw("text_postfix_user_unknown.eml"))
    assert got.recipients == ("marketing@avtozapchasti-msk.example",)
    assert "anna.smirnova@leadpilot.example" not in got.recipients


def test_a_person_forwarding_a_bounce_is_not_a_bounce() -> None:
    body = "Коллеги, смотрите: This message was created automatically by mail delivery software.\n"
    got = classify(person(body, subject="Fwd: Mail delivery failed"))
    assert got.kind not in (MailKind.HARD_BOUNCE, MailKind.SOFT_BOUNCE)


def test_bounce_wins_over_auto_submitted() -> None:
    got = classify(raw("dsn_postfix_user_unknown.eml"))
    assert got.kind is MailKind.HARD_BOUNCE  # the DSN carries Auto-Submitted: auto-replied


# --- auto-replies


def test_rfc3834_header_makes_an_auto_reply() -> None:
    got = classify(person("Спасибо, ваше письмо получено.", headers="Auto-Submitted: auto-replied\n"))
    assert got.kind is MailKind.AUTO_REPLY and got.reason.startswith("rfc3834")
    assert got.message_id == OURS


def test_auto_submitted_no_is_a_person() -> None:
    got = classify(person("Давайте созвонимся в среду.", headers="Auto-Submitted: no\n"))
    assert got.kind is MailKind.REPLY


def test_x_auto_response_suppress_alone_is_not_an_auto_reply() -> None:
    got = classify(person("Давайте созвонимся в среду.", headers="X-Auto-Response-Suppress: All\n"))
    assert got.kind is MailKind.REPLY


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Automatic reply: Поставка", "Thanks"),
        ("Автоответ: Re: Поставка", "Спасибо"),
        ("Re: Поставка", "Я в отпуске до 20 декабря, по срочным вопросам пишите коллеге."),
        ("Re: Поставка", "I am out of the office until Monday."),
        ("Re: Поставка", "Меня нет на месте до понедельника."),
        ("[#123] Ваше обращение зарегистрировано", "Номер обращения 123."),
    ],
)
def test_out_of_office_words_make_an_auto_reply(subject: str, body: str) -> None:
    assert classify(person(body, subject=subject)).kind is MailKind.AUTO_REPLY


def test_auto_generated_notification_outside_a_thread_is_other() -> None:
    message = (
        b"From: robot@hosting.example\nTo: anna@leadpilot.example\nSubject: Invoice 12\n"
        b"Auto-Submitted: auto-generated\n\nYour invoice is ready.\n"
    )
    assert classify(message).kind is MailKind.OTHER


# --- replies and unsubscribe requests


def test_reply_fields() -> None:
    got = classify(person("Добрый день!\nИнтересно, пришлите КП.\n\n> old text\n"))
    assert got.kind is MailKind.REPLY
    assert got.message_id == OURS
    assert got.references == (OURS, "<older@leadpilot.example>")
    assert got.sender == "ivan@zavod.example"
    assert got.inbound_message_id == "<r1@zavod.example>"
    assert got.subject == "Re: Поставка"
    assert got.date == datetime.fromisoformat("2026-12-08T10:00:00+03:00")
    assert got.excerpt == "Добрый день!\nИнтересно, пришлите КП."


def test_our_footer_quoted_back_is_not_an_unsubscribe() -> None:
    body = (
        "Спасибо, интересно. Позвоните завтра.\n\n"
        "пн, 7 дек. 2026 г. в 09:12, Анна <anna@leadpilot.example>:\n"
        "> Отписаться: mailto:unsubscribe@leadpilot.example?subject=unsubscribe\n"
    )
    assert classify(person(body)).kind is MailKind.REPLY


def test_outlook_top_posting_keeps_the_footer_out() -> None:
    body = (
        "Ок, жду звонка.\n\nFrom: Анна <anna@leadpilot.example>\nSent: Monday, December 7, 2026 9:12 AM\n"
        "Subject: Поставка\n\nОтписаться: mailto:unsubscribe@leadpilot.example?subject=unsubscribe\n"
    )
    assert classify(person(body, charset="cp1251")).kind is MailKind.REPLY


@pytest.mark.parametrize(
    "body",
    [
        "Отпишите нас от рассылки.",
        "Удалите, пожалуйста, наш адрес из вашей базы.",
        "Прошу больше не присылать писем.",
        "Нам не интересно, не пишите.",
        "Please unsubscribe me.",
        "Remove me from your list.",
        "Stop emailing me.",
        "Take me off your list",
    ],
)
def test_unsubscribe_requests(body: str) -> None:
    got = classify(person(body))
    assert got.kind is MailKind.UNSUBSCRIBE
    assert got.message_id == OURS


def test_unsubscribe_by_subject_of_the_mailto_link() -> None:
    message = b"From: info@zavod.example\nTo: unsubscribe@leadpilot.example\nSubject: unsubscribe\n\n"
    assert classify(message).kind is MailKind.UNSUBSCRIBE


def test_newsletter_with_unsubscribe_link_is_other() -> None:
    message = (
        b"From: news@shop.example\nTo: anna@leadpilot.example\nSubject: Sale\nList-Id: <news.shop.example>\n"
        b"List-Unsubscribe: <https://shop.example/u>\n\nBig sale! To unsubscribe click here.\n"
    )
    assert classify(message).kind is MailKind.OTHER


def test_reply_marker_without_thread_headers() -> None:
    message = b"From: ivan@zavod.example\nTo: anna@leadpilot.example\nSubject: RE: Postavka\n\nOk, call me.\n"
    got = classify(message)
    assert got.kind is MailKind.REPLY and got.message_id is None


def test_no_reply_markers_is_other() -> None:
    message = (
        b"From: ivan@zavod.example\nTo: anna@leadpilot.example\nSubject: Hello\n\nDo you ship to Kazan?\n"
    )
    assert classify(message).kind is MailKind.OTHER


# --- quotes and decoding


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, Dec 7, 2026 at 9:12 AM Anna <anna@leadpilot.example> wrote:",
        "пн, 7 дек. 2026 г. в 09:12, Анна <anna@leadpilot.example>:",
        '07.12.2026, 09:12, "Анна" <anna@leadpilot.example>:',
        "Понедельник, 7 декабря 2026, 9:12 +03:00 от Анна <anna@leadpilot.example>:",
        "Анна Смирнова пишет:",
        "-----Original Message-----",
        "-------- Исходное сообщение --------",
        "________________________________",
        "Вы писали 7 декабря 2026 г., 9:12:",
        '-----"Anna Smirnova" <anna@leadpilot.example> wrote: -----',
    ],
)
def test_new_text_stops_at_the_quote(attribution: str) -> None:
    body = f"Мой ответ.\n\n{attribution}\nОтписаться: mailto:u@leadpilot.example\n> quoted\n"
    assert human.new_text(body) == "Мой ответ."


@pytest.mark.parametrize("codec", ["utf-8", "cp1251", "koi8-r"])
def test_undeclared_cyrillic_is_sniffed(codec: str) -> None:
    text = "Здравствуйте, пришлите коммерческое предложение"
    assert mime.sniff(text.encode(codec)) == text


def test_rfc2047_and_raw_8bit_headers() -> None:
    assert mime.decode_header_value("=?koi8-r?B?8NLJ18XU?=") == "Привет"
    raw_8bit = "Тема письма".encode("cp1251").decode("ascii", errors="surrogateescape")
    assert mime.decode_header_value(raw_8bit) == "Тема письма"
    assert mime.decode_header_value("=?bogus-charset?Q?abc?=") == "abc"


def test_unknown_charset_and_broken_base64_do_not_raise() -> None:
    message = (
        b"From: a@b.example\nSubject: Re: x\nIn-Reply-To: <x@y>\nContent-Type: text/plain; charset=x-nonsense\n"
        b"Content-Transfer-Encoding: base64\n\n!!!notbase64***\n"
    )
    assert classify(message).kind is MailKind.REPLY


@pytest.mark.parametrize("data", [b"", b"\x00" * 10, b"Subject: \xff\xfe\n\n\xff", b"--\n" * 1000])
def test_degenerate_input_is_other(data: bytes) -> None:
    got = classify(data)
    assert got.kind is MailKind.OTHER
    assert got.summary()["recipients"] == []


def test_a_person_mentioning_a_trip_and_quoting_us_is_a_reply() -> None:
    body = (
        "Я в командировке до пятницы, давайте созвонимся в понедельник.\n\n"
        "пн, 7 дек. 2026 г. в 09:12, Анна <anna@leadpilot.example>:\n> Здравствуйте!\n"
    )
    assert classify(person(body)).kind is MailKind.REPLY


def test_ill_be_back_is_not_an_out_of_office() -> None:
    assert classify(person("Busy today, I'll be back on Monday - call me then.")).kind is MailKind.REPLY


@pytest.mark.parametrize(
    ("subject", "headers"),
    [("[SPAM] Re: Поставка", ""), ("Re: Поставка", "X-Spam-Flag: YES\n"), ("Re: Поставка", "X-Spam: Yes\n")],
)
def test_spam_marked_by_a_filter_is_other(subject: str, headers: str) -> None:
    got = classify(person("Продаём базы, отпишитесь если не нужно", subject=subject, headers=headers))
    assert got.kind is MailKind.OTHER and got.reason == "spam"


def test_mbox_separator_and_leading_blank_lines_are_skipped() -> None:
    data = b"\n\nFrom MAILER-DAEMON Mon Dec  7 09:12:05 2026\n" + raw("dsn_postfix_user_unknown.eml")
    assert classify(data).recipients == ("info@stroymontazh-nn.ru",)


@pytest.mark.parametrize(
    "body",
    [
        "Please remove the VAT line from the price list and resend.",
        "Подпишите, пожалуйста, договор и пришлите скан.",
        "Нам не нужно это решение, у нас уже есть склад.",
        "I replied to my colleague and he will write to you.",
        "Отпишитесь, пожалуйста, по итогам встречи.",
        "Пока не присылайте счёт, сначала согласуем объём.",
        "Договор пока не отправляйте юристу.",
    ],
)
def test_ordinary_replies_are_not_unsubscribe_requests(body: str) -> None:
    assert classify(person(body)).kind is MailKind.REPLY


@pytest.mark.parametrize(
    "body",
    [
        "STOP",
        "Стоп.",
        "Please stop.",
        "Удалите, пожалуйста",
        "We no longer wish to receive these emails.",
        "Хватит спамить!",
        "Не надо нам больше писать.",
    ],
)
def test_short_and_blunt_unsubscribe_requests(body: str) -> None:
    assert classify(person(body)).kind is MailKind.UNSUBSCRIBE


def test_delays_are_marked_in_extra() -> None:
    got = classify(dsn("Final-Recipient: rfc822; x@example.org\nAction: delayed\nStatus: 4.4.1\n"))
    assert got.extra["delayed"] is True
    assert got.extra["recipient_statuses"] == [
        {"addresses": ["x@example.org"], "action": "delayed", "status": "4.4.1", "diagnostic": ""}
    ]
    assert classify(raw("text_exim_delay_warning.eml")).extra["delayed"] is True
    assert classify(raw("text_exim_user_unknown.eml")).extra["delayed"] is False


def test_helpdesk_answer_with_list_unsubscribe_is_still_an_auto_reply() -> None:
    headers = "List-Unsubscribe: <https://desk.example/u/1>\n"
    body = "Your request (#123) has been received.\n\nUnsubscribe\n"
    got = classify(person(body, subject="[Request received] Re: Поставка", headers=headers))
    assert got.kind is MailKind.AUTO_REPLY


def test_crm_reply_with_an_unsubscribe_footer_is_a_reply() -> None:
    headers = "List-Unsubscribe: <https://crm.example/u/1>\n"
    got = classify(person("Anna, let's talk on Friday.\n\nUnsubscribe\n", headers=headers))
    assert got.kind is MailKind.REPLY


def ses(body: str) -> bytes:
    return (
        "From: SES <no-reply@sns.amazonaws.com>\nTo: anna@leadpilot.example\nSubject: AWS Notification Message\n"
        f"Content-Type: text/plain; charset=UTF-8\n\n{body}\n--\nIf you wish to stop receiving notifications...\n"
    ).encode()


def test_amazon_ses_bounce_notification() -> None:
    notice = (
        '{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":'
        '[{"emailAddress":"Gone@Example.org","action":"failed","status":"5.1.1"}]},'
        '"mail":{"commonHeaders":{"messageId":"<abc@leadpilot.example>"}}}'
    )
    got = classify(ses(notice))
    assert (got.kind, got.recipients, got.status, got.message_id) == (
        MailKind.HARD_BOUNCE,
        ("gone@example.org",),
        "5.1.1",
        "<abc@leadpilot.example>",
    )
    wrapped = '{"Type" : "Notification", "Message" : ' + __import__("json").dumps(notice) + "}"
    assert classify(ses(wrapped)).recipients == ("gone@example.org",)
    transient = notice.replace("Permanent", "Transient")
    assert classify(ses(transient)).kind is MailKind.SOFT_BOUNCE
    assert classify(ses('{"notificationType":"Delivery","mail":{}}')).kind is MailKind.OTHER


def test_sender_side_addresses_in_a_text_bounce_are_not_recipients() -> None:
    message = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\nTo: bounces@leadpilot.example\n"
        b"Subject: Mail delivery failed\n\n"
        b"This message was created automatically by mail delivery software.\n\nA message sent by\n\n"
        b"  <anna@leadpilot.example>\n\ncould not be delivered to one or more of its recipients.\n\n"
        b"  gone@example.org\n    all hosts have been failing for a long time\n\n"
        b"Message-ID:<14a3e1b4b5a.10b1a4c5610175.85883@zoho.example.com>\n"
    )
    got = classify(message)
    assert got.kind is MailKind.SOFT_BOUNCE
    assert got.recipients == ("gone@example.org",)


def test_a_tracker_notification_in_a_thread_is_other() -> None:
    message = (
        b"From: Jira <jira@tracker.example>\nTo: anna@leadpilot.example\nSubject: [JIRA] (OPS-12) Update the price list\n"
        b"Auto-Submitted: auto-generated\nPrecedence: bulk\nIn-Reply-To: <JIRA.1.2@tracker>\n"
        b"References: <JIRA.1.2@tracker>\n\nIvan updated OPS-12.\n"
    )
    assert classify(message).kind is MailKind.OTHER


def test_utf8_mislabelled_as_cp1251_is_read_as_utf8() -> None:
    text = "Добрый день, пришлите прайс"
    assert mime.decode_bytes(text.encode("utf-8"), "windows-1251") == text
    assert mime.decode_bytes(text.encode("cp1251"), "windows-1251") == text
    assert mime.decode_bytes(text.encode("koi8-r"), "koi8-r") == text

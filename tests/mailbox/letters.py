"""Realistic inbound mail for the sync tests, as MTAs and mail clients write it (CRLF, RFC 5322 headers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, make_msgid

MAILBOX = "sales@dentaplan.example"
BASE = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def postfix_hard_bounce(rcpt: str, original_id: str, *, n: int = 0) -> bytes:
    """An RFC 3464 DSN as Postfix sends it: multipart/report with the returned headers."""
    date = format_datetime(BASE + timedelta(minutes=n))
    return _crlf(f"""Return-Path: <>
Received: by mx1.clinic-mail.example (Postfix) id 4Rk2Y30Lq{n:04d}; {date}
Date: {date}
From: MAILER-DAEMON@mx1.clinic-mail.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {MAILBOX}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4Rk2Y30Lq{n:04d}.1733550000/mx1.clinic-mail.example"
Message-Id: <20261207060{n:04d}.4Rk2Y30Lq{n:04d}@mx1.clinic-mail.example>

This is a MIME-encapsulated message.

--4Rk2Y30Lq{n:04d}.1733550000/mx1.clinic-mail.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx1.clinic-mail.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{rcpt}>: host mx.clinic-mail.example[203.0.113.7] said: 550 5.1.1
    <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox
    table (in reply to RCPT TO command)

--4Rk2Y30Lq{n:04d}.1733550000/mx1.clinic-mail.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx1.clinic-mail.example
X-Postfix-Queue-ID: 4Rk2Y30Lq{n:04d}
Arrival-Date: {date}

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.clinic-mail.example
Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User
    unknown in virtual mailbox table

--4Rk2Y30Lq{n:04d}.1733550000/mx1.clinic-mail.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Anna Sales <{MAILBOX}>
To: {rcpt}
Subject: =?utf-8?b?0JrQvtC80LzQtdGA0YfQtdGB0LrQvtC1INC/0YDQtdC00LvQvtC20LXQvdC40LU=?=
Message-ID: {original_id}
Date: {format_datetime(BASE - timedelta(hours=1))}

--4Rk2Y30Lq{n:04d}.1733550000/mx1.clinic-mail.example--
""")


def exim_soft_bounce(rcpt: str, original_id: str, *, n: int = 0) -> bytes:
    """A text bounce as Exim writes it when it gives up on a full mailbox (4.2.2, over quota)."""
    date = format_datetime(BASE + timedelta(minutes=n))
    return _crlf(f"""Return-path: <>
Received: from mail by relay.mail.example with local (Exim 4.96)
\tid 1tJk2Q-000{n:04d}-Aa; {date}
X-Failed-Recipients: {rcpt}
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@relay.mail.example>
To: {MAILBOX}
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1tJk2Q-000{n:04d}-Aa@relay.mail.example>
Date: {date}

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a temporary error. The following address(es) deferred:

  {rcpt}
    host mx.mail.example [198.51.100.25]
    SMTP error from remote mail server after RCPT TO:<{rcpt}>:
    452 4.2.2 Mailbox full, the user's quota has been exceeded

------ This is a copy of the message, including all the headers. ------

From: Anna Sales <{MAILBOX}>
To: {rcpt}
Subject: Commercial offer
Message-ID: {original_id}
Date: {format_datetime(BASE - timedelta(hours=1))}

Hello!
""")


def reply(sender: str, original_id: str, *, n: int = 0, text: str = "") -> bytes:
    """A person's answer from Thunderbird, quoting our message (In-Reply-To and References set)."""
    date = format_datetime(BASE + timedelta(minutes=n))
    body = (
        text
        or "Добрый день!\n\nИнтересно, пришлите, пожалуйста, прайс и условия подключения.\n\nС уважением,\nИрина"
    )
    return _crlf(f"""Message-ID: <a7f3{n:04d}-2c1e-4b9a-9d55-reply@clinic.example>
Date: {date}
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Subject: Re: Commercial offer
To: Anna Sales <{MAILBOX}>
References: {original_id}
In-Reply-To: {original_id}
From: Irina <{sender}>
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

{body}

07.12.2026 9:00, Anna Sales пишет:
> Здравствуйте! Предлагаем CRM для клиник.
""")


def out_of_office(sender: str, original_id: str, *, n: int = 0) -> bytes:
    """An Exchange out-of-office answer (RFC 3834 Auto-Submitted plus the X-Auto-Response-Suppress family)."""
    date = format_datetime(BASE + timedelta(minutes=n))
    return _crlf(f"""From: Petr Ivanov <{sender}>
To: Anna Sales <{MAILBOX}>
Subject: Automatic reply: Commercial offer
Thread-Topic: Commercial offer
Date: {date}
Message-ID: <DB9PR0{n:04d}MB1234.eurprd04.prod.outlook.com>
In-Reply-To: {original_id}
References: {original_id}
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: {sender}
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit
MIME-Version: 1.0

Здравствуйте! Я в отпуске до 15 декабря, с ограниченным доступом к почте.
I am out of the office until December 15th with limited access to email.
""")


def newsletter(n: int = 0) -> bytes:
    """An ordinary newsletter the sales mailbox also receives (kind `other`)."""
    date = format_datetime(BASE + timedelta(minutes=n))
    msgid = make_msgid(idstring=f"news{n}", domain="news.vendor.example")
    return _crlf(f"""From: Vendor News <news@news.vendor.example>
To: {MAILBOX}
Subject: Декабрьские новинки #{n}
Date: {date}
Message-ID: {msgid}
List-Unsubscribe: <https://news.vendor.example/u/{n}>
Precedence: bulk
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Новости месяца и скидки для постоянных клиентов, выпуск {n}.
""")

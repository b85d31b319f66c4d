"""Loopback SMTP sink (aiosmtpd): optional STARTTLS or implicit TLS, AUTH, stored messages, injected faults.

>>> with SmtpSink(tls="starttls", auth=("user", "secret")) as sink:  # doctest: +SKIP
...     sink.fail_next("450")            # the next DATA gets "450 4.7.1 try again later"
...     ...                              # point SMTP_*_HOST/PORT at sink.host/sink.port
...     assert sink.count == 1

Faults real servers produce: 421/450/452/550 after the end of data, a dropped connection with the message
discarded (`disconnect`) or kept (`accept-disconnect`: the server has it, the client never hears), a 250 sent
only after `slow_seconds` (`slow`, or `reply_delay` for every message), and a server without STARTTLS (`tls="none"`
while the client requires it). With `maildir=` every accepted message is also written to that Maildir, so
deliveries can be counted across processes (`leadgen sandbox up` puts it in the sandbox work folder). With
`sent_copies=SentFolderCopier(route, folder)` every accepted message is first saved, byte for byte, into that IMAP
folder (IMAP APPEND, as Gmail does with submitted mail), before the 250; when the copy cannot be saved the message
is refused with 451, so the sent folder is a reliable record of what the sink accepted.

With `returns=Returns(maildir, unknown_user=...)` the sink behaves like a relay in front of real mailboxes: it
accepts mail for unknown users too, and `deliver_returns()` later drops a Postfix DSN for each of them, and a
person's reply to the first `replies` other messages, into the sender's Maildir (leadgen_sandbox.returns).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import mailbox
import socket
import ssl
import tempfile
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from leadgen.clock import Clock, utc_now
from leadgen.errors import MailboxError
from leadgen_sandbox.returns import human_reply, postfix_dsn
from leadgen_sandbox.sent_copy import SentFolderCopier
from leadgen_sandbox.tlscert import CertFiles, make_self_signed

SinkTls = Literal["none", "starttls", "ssl"]
log = logging.getLogger(__name__)


class Fault(enum.StrEnum):
    """What the sink does with a DATA command instead of accepting it."""

    TEMP_421 = "421"  # service not available, closing channel
    TEMP_450 = "450"  # mailbox unavailable, try again
    TEMP_452 = "452"  # insufficient system storage
    PERM_550 = "550"  # rejected permanently (policy)
    USER_UNKNOWN = "550-5.1.1"  # the mailbox does not exist
    DISCONNECT = "disconnect"  # drop the connection during DATA, no reply, message discarded
    ACCEPT_DISCONNECT = "accept-disconnect"  # keep the message, then drop the connection before replying
    SLOW = "slow"  # keep the message, reply 250 only after `slow_seconds` (longer than the client waits)


FAULT_REPLIES = {
    Fault.TEMP_421: "421 4.3.2 Service not available, closing transmission channel",
    Fault.TEMP_450: "450 4.7.1 Requested mail action not taken: try again later",
    Fault.TEMP_452: "452 4.3.1 Insufficient system storage",
    Fault.PERM_550: "550 5.7.1 Message rejected by policy",
    Fault.USER_UNKNOWN: "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
}


@dataclass(frozen=True, slots=True)
class SinkMessage:
    """One accepted message as the sink saw it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    auth_user: str | None
    tls: bool
    mail_options: tuple[str, ...] = ()  # MAIL FROM parameters, e.g. SMTPUTF8, BODY=8BITMIME

    def parsed(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def message_id(self) -> str | None:
        value = self.parsed()["Message-ID"]
        return str(value) if value else None


@dataclass
class Returns:
    """What comes back to the sender: DSNs for `unknown_user` recipients and `replies` human replies, written
    into the Maildir `maildir` when `SmtpSink.deliver_returns` runs (`delay` after the message arrived)."""

    maildir: Path
    unknown_user: Callable[[str], bool] = lambda _address: False
    replies: int = 1
    delay: timedelta = timedelta(minutes=3)
    clock: Clock = utc_now
    pending: list[tuple[str, SinkMessage, str, datetime]] = field(default_factory=list)

    def note(self, message: SinkMessage) -> None:
        """Queue what `message` will bring back (called as the sink accepts it)."""
        now = self.clock()
        for rcpt in message.rcpt_tos:
            if self.unknown_user(rcpt):
                self.pending.append(("dsn", message, rcpt, now))
            elif self.replies > 0:
                self.replies -= 1
                self.pending.append(("reply", message, rcpt, now))

    def deliver(self) -> list[str]:
        """Write every queued return into the Maildir (created when missing); the keys written."""
        box = mailbox.Maildir(self.maildir, create=True)
        keys = []
        for kind, message, rcpt, arrival in self.pending:
            if kind == "dsn":
                raw = postfix_dsn(
                    message.data, rcpt=rcpt, sender=message.mail_from, arrival=arrival, delay=self.delay
                )
            else:
                raw = human_reply(message.data, when=arrival + self.delay)
            keys.append(box.add(raw))
        self.pending.clear()
        return keys


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        fault = self.sink._rcpt_fault(address)
        self.sink.rcpts_seen += 1
        if fault in (Fault.ACCEPT_DISCONNECT, Fault.SLOW):
            fault = None  # faults of the end of data only
        if fault is not None and fault is not Fault.DISCONNECT:
            return FAULT_REPLIES[fault].format(rcpt=address)
        if fault is Fault.DISCONNECT:
            server.transport.close()
            return "421 4.4.2 connection dropped"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fault = self.sink._take_fault(envelope.rcpt_tos)
        if fault is Fault.DISCONNECT:
            server.transport.close()
            return "421 4.4.2 connection dropped"  # never reaches the client
        if fault is not None and fault in FAULT_REPLIES:
            rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
            reply = FAULT_REPLIES[fault].format(rcpt=rcpt)
            if fault is Fault.TEMP_421:
                asyncio.get_running_loop().call_soon(server.transport.close)  # after the reply is written
            return reply
        user = session.auth_data if isinstance(session.auth_data, str) else None
        message = SinkMessage(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content),
            auth_user=user,
            tls=self.sink.tls == "ssl" or session.ssl is not None,
            mail_options=tuple(envelope.mail_options),
        )
        if self.sink.sent_copies is None:
            self.sink._store(message)
        else:  # copy and store in one worker thread: a client gone meanwhile cancels the wait, not the work
            try:
                await asyncio.to_thread(self.sink._store_with_copy, message)
            except MailboxError as exc:
                log.warning("SMTP sink: no sent copy kept, message refused: %s", exc)
                return "451 4.3.0 Could not save a copy of the message; try again later"
        self.sink._open.add(server.transport)
        if fault is Fault.ACCEPT_DISCONNECT:
            server.transport.close()
            return "250 2.0.0 OK queued"  # never reaches the client
        delay = self.sink.slow_seconds if fault is Fault.SLOW else self.sink.reply_delay
        if delay:
            await asyncio.sleep(delay)
        return "250 2.0.0 OK queued"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """An SMTP server on loopback that keeps what it receives; a context manager exposing host/port."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: SinkTls = "none",
        auth: tuple[str, str] | None = None,
        cert_dir: Path | None = None,
        returns: Returns | None = None,
        smtputf8: bool = True,
        maildir: Path | None = None,
        reply_delay: float = 0.0,
        slow_seconds: float = 5.0,
        sent_copies: SentFolderCopier | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the SMTP sink only listens on loopback")
        self.host = host
        self.port = port or _free_port(host)
        self.tls = tls
        self.auth = auth
        self.smtputf8 = (
            smtputf8  # announce SMTPUTF8 (RFC 6531) in the EHLO reply, as aiosmtpd does by default
        )
        self.messages: list[SinkMessage] = []
        self.connections_refused = 0
        self.rcpts_seen = 0  # RCPT TO commands received (a client at work), accepted or not
        self._open: set[Any] = (
            set()
        )  # transports of sessions that delivered a message (idle between messages)
        self._faults: deque[Fault] = deque()
        self._recipient_faults: dict[str, Fault] = {}
        self._rcpt_faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._cert_dir = cert_dir
        self.cert: CertFiles | None = None
        self._controller: Controller | None = None
        self.returns = returns
        self.maildir = maildir
        self.reply_delay = reply_delay  # seconds before every 250 to the end of data (a slow server)
        self.slow_seconds = slow_seconds  # seconds before the 250 of a `slow` fault
        self.sent_copies = sent_copies  # IMAP APPEND of every accepted message into a sent folder

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> SmtpSink:
        logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-login deprecation chatter
        kwargs: dict[str, Any] = {"hostname": self.host, "port": self.port, "ready_timeout": 10.0}
        kwargs["enable_SMTPUTF8"] = self.smtputf8
        if self.tls != "none":
            if self._cert_dir is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="leadgen-smtp-sink-")
                self._cert_dir = Path(self._tmp.name)
            self.cert = make_self_signed(self._cert_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.cert.cert), str(self.cert.key))
            if self.tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                kwargs.update(ssl_context=context)
        if self.auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=self.tls == "starttls")
        self._controller = Controller(_Handler(self), **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if self.sent_copies is not None:
            self.sent_copies.close()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what clients need ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = {"none": "smtp", "starttls": "smtp+starttls", "ssl": "smtps"}[self.tls]
        return f"{scheme}://{self.host}:{self.port}"

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this sink's certificate."""
        context = ssl.create_default_context()
        if self.cert is not None:
            context.load_verify_locations(cafile=str(self.cert.cert))
        return context

    def settings_env(self, route: str = "gmail") -> dict[str, str]:
        """SMTP_<ROUTE>_* settings (plus SMTP_CA_FILE) pointing a route at this sink."""
        prefix = f"smtp_{route}_"
        env = {
            prefix + "host": self.host,
            prefix + "port": str(self.port),
            prefix + "security": self.tls,
        }
        if self.auth:
            env[prefix + "username"], env[prefix + "password"] = self.auth
        if self.cert is not None:
            env["smtp_ca_file"] = str(self.cert.cert)
        return env

    # --- faults and inspection --------------------------------------------------------------------------

    def fail_next(self, fault: Fault | str, times: int = 1) -> None:
        """The next `times` DATA commands (any recipient) get `fault`."""
        with self._lock:
            self._faults.extend([Fault(fault)] * times)

    def fail_recipient(
        self, address: str, fault: Fault | str, *, at: Literal["data", "rcpt"] = "data"
    ) -> None:
        """Every message to `address` gets `fault` at DATA, or already at RCPT TO (until `clear_faults`)."""
        with self._lock:
            target = self._rcpt_faults if at == "rcpt" else self._recipient_faults
            target[address.lower()] = Fault(fault)

    def _rcpt_fault(self, address: str) -> Fault | None:
        with self._lock:
            return self._rcpt_faults.get(address.lower())

    def drop_connections(self) -> None:
        """Close every session that delivered a message, as a server closes idle connections (its timeout)."""
        if self._controller is None:
            return
        loop = self._controller.loop
        for transport in list(self._open):
            loop.call_soon_threadsafe(transport.close)
        self._open.clear()

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._recipient_faults.clear()
            self._rcpt_faults.clear()

    def _take_fault(self, rcpt_tos: list[str]) -> Fault | None:
        with self._lock:
            for rcpt in rcpt_tos:
                if rcpt.lower() in self._recipient_faults:
                    return self._recipient_faults[rcpt.lower()]
            return self._faults.popleft() if self._faults else None

    def _store(self, message: SinkMessage) -> None:
        with self._lock:
            self.messages.append(message)
            if self.maildir is not None:  # before the reply: a message kept is a message delivered
                mailbox.Maildir(self.maildir, create=True).add(message.data)
            if self.returns is not None:
                self.returns.note(message)

    def _store_with_copy(self, message: SinkMessage) -> None:
        """The sent copy first (IMAP APPEND of the exact bytes), then the message: a message kept always has
        its copy. Raises MailboxError (nothing kept) when the copy could not be saved."""
        if self.sent_copies is not None:
            self.sent_copies.append(message.data)
        self._store(message)

    def deliver_returns(self) -> list[str]:
        """Drop the DSNs and replies owed so far into the returns Maildir; the Maildir keys written."""
        with self._lock:
            return self.returns.deliver() if self.returns is not None else []

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if (
            self.auth is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == self.auth
        ):
            return AuthResult(success=True, auth_data=auth_data.login.decode())
        return AuthResult(success=False, handled=False)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def messages_to(self, address: str) -> list[SinkMessage]:
        with self._lock:
            return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]


def delivered_message_ids(maildir: Path) -> list[str]:
    """The Message-ID of every message a sink wrote into `maildir` (one entry per delivery, duplicates kept)."""
    if not Path(maildir).is_dir():
        return []
    ids = []
    for raw in mailbox.Maildir(maildir, factory=None, create=False):
        value = raw["Message-ID"]
        ids.append(str(value).strip() if value else "")
    return ids

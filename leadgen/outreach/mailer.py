"""The Mailer seam (`send(message)`, `close()`): SMTP for production, a recorder for tests, .eml files for dry runs."""

from __future__ import annotations

import email.policy
import io
import re
import smtplib
import ssl
import threading
from collections.abc import Callable
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import getaddresses
from pathlib import Path
from typing import Protocol

from leadgen.errors import (
    OutputUnusable,
    RouteUnavailable,
    SmtpOutcomeUnknown,
    SmtpPermanentError,
    SmtpSendError,
    SmtpTemporaryError,
)
from leadgen.outreach.idn import ensure_smtputf8, needs_smtputf8
from leadgen.settings import SmtpRoute

LINE_END_RE = re.compile(rb"(?:\r\n|\n|\r(?!\n))")
LEADING_DOT_RE = re.compile(rb"(?m)^\.")


BeforeData = Callable[[], None]
"""Called by a mailer after the recipients are accepted and before the DATA command (a durable checkpoint)."""


class Mailer(Protocol):
    """Delivers one message or raises SmtpTemporaryError / SmtpPermanentError / SmtpOutcomeUnknown /
    RouteUnavailable. `before_data` runs once the server could receive the message, before it is sent.

    >>> mailer = SmtpMailer(settings.smtp_route("yandex"))  # doctest: +SKIP
    >>> mailer.send(message); mailer.close()  # doctest: +SKIP
    """

    def send(self, message: EmailMessage, /, *, before_data: BeforeData | None = None) -> None: ...

    def close(self) -> None: ...


def envelope_recipients(message: EmailMessage) -> list[str]:
    return [addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", [])) if addr]


def smtp_error(exc: smtplib.SMTPResponseException | tuple[int, bytes], *, what: str) -> SmtpSendError:
    """Map an SMTP reply to a temporary (4xx) or permanent (5xx) error."""
    raw: bytes | str
    if isinstance(exc, tuple):
        code, raw = exc
    else:
        code, raw = exc.smtp_code, exc.smtp_error
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    message = f"{what}: {code} {' '.join(text.split())}"
    if 400 <= code < 500:
        return SmtpTemporaryError(message, code=code)
    return SmtpPermanentError(message, code=code)


def route_problem(route: SmtpRoute, step: str, exc: BaseException) -> str:
    """One line naming the route, what failed before any message was transmitted, and the setting to check."""
    where = f"{route.host}:{route.port}"
    env = f"SMTP_{route.name.upper()}_"
    if isinstance(exc, smtplib.SMTPNotSupportedError) and step == "starttls":
        what, check = f"STARTTLS not offered by {where}", f"{env}SECURITY"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        what, check = f"TLS certificate of {where} not trusted: {exc.verify_message}", "SMTP_CA_FILE"
    elif isinstance(exc, ssl.SSLError):
        what, check = f"TLS negotiation with {where} failed: {_describe(exc)}", f"{env}SECURITY, {env}PORT"
    elif isinstance(exc, smtplib.SMTPAuthenticationError):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
        what = f"authentication refused by {where}: {exc.smtp_code} {' '.join(text.split())}".rstrip()
        check = f"{env}USERNAME, {env}PASSWORD"
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
        what = f"{where} refused the session at {step}: {exc.smtp_code} {' '.join(text.split())}".rstrip()
        check = f"{env}HOST, {env}PORT"
    elif isinstance(exc, TimeoutError):
        what, check = f"no answer from {where} at {step} (timed out)", f"{env}HOST, {env}PORT"
    else:
        what, check = (
            f"cannot use {where} at {step}: {_describe(exc)}",
            f"{env}HOST, {env}PORT, {env}SECURITY",
        )
    return f"route {route.name} unavailable: {what} (check {check})"


class SmtpMailer:
    """smtplib over one route: STARTTLS, implicit TLS or plain; AUTH when a username is set; reconnects lazily."""

    def __init__(
        self,
        route: SmtpRoute,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.route = route
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None

    @property
    def name(self) -> str:
        return self.route.name

    def _connect(self) -> smtplib.SMTP:
        route = self.route
        smtp: smtplib.SMTP | None = None
        step = "connect"
        try:
            if route.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    route.host,
                    route.port,
                    timeout=route.timeout,
                    context=self.ssl_context,
                    local_hostname=self.local_hostname,
                )
            else:
                smtp = smtplib.SMTP(
                    route.host, route.port, timeout=route.timeout, local_hostname=self.local_hostname
                )
                if route.security == "starttls":
                    step = "starttls"
                    smtp.ehlo()
                    smtp.starttls(context=self.ssl_context)
            step = "ehlo"
            smtp.ehlo()
            if route.username:
                step = "auth"
                password = route.password.get_secret_value() if route.password else ""
                smtp.login(route.username, password)
        except (OSError, smtplib.SMTPException) as exc:
            if smtp is not None:
                _quietly_close(smtp)
            raise RouteUnavailable(route_problem(route, step, exc)) from exc
        return smtp

    def send(self, message: EmailMessage, /, *, before_data: BeforeData | None = None) -> None:
        """Deliver one message, driving smtplib step by step (MAIL, RCPT, DATA, content) so a failure is placed.

        Before the content is transmitted (connect, MAIL, RCPT, the DATA command itself) the server cannot have
        the message: errors are temporary or permanent as the reply says. `before_data` is called after RCPT
        and before the DATA command (the caller's durable checkpoint); if it raises, the connection is dropped
        without DATA and the error propagates. Once the content is on the wire, a lost connection or a timeout
        before the final reply (waited for up to the route's `data_timeout`) raises SmtpOutcomeUnknown.
        """
        sender = self.route.from_address or getaddresses([str(message["From"])])[0][1]
        recipients = envelope_recipients(message)
        try:
            content, mail_options = _flatten(message, sender, recipients)
            smtp = self._envelope(sender, recipients, mail_options)
            if before_data is not None:
                try:
                    before_data()
                except BaseException:
                    self._reset()  # no DATA was issued: the server cannot have the message
                    raise
            code, reply = smtp.docmd("DATA")
            if code != 354:
                raise smtp_error((code, reply), what="rejected")
        except (SmtpSendError, RouteUnavailable):
            self._reset()
            raise
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise smtp_error(exc, what="rejected") from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._reset()
            raise SmtpTemporaryError(
                f"connection lost before the message was sent: {_describe(exc)}"
            ) from exc
        except smtplib.SMTPException as exc:
            self._reset()
            raise SmtpTemporaryError(f"smtp error: {type(exc).__name__} {exc}") from exc
        self._transmit(smtp, content)

    def _envelope(self, sender: str, recipients: list[str], mail_options: tuple[str, ...]) -> smtplib.SMTP:
        """MAIL FROM and RCPT TO: the connection the server accepted them on. Raises as the replies say; a
        refused sender is a route problem (RouteUnavailable: the route's From is not allowed)."""
        smtp, code, reply = self._mail_from(sender, recipients, mail_options)
        if code != 250:
            error = smtp_error((code, reply), what="sender refused")
            if isinstance(error, SmtpPermanentError):  # the route's From is not allowed: a route problem
                raise RouteUnavailable(f"route {self.route.name}: {error}")
            raise error
        for rcpt in recipients:
            code, reply = smtp.rcpt(rcpt)
            if code not in (250, 251):
                raise smtp_error((code, reply), what="recipient refused")
        return smtp

    def _mail_from(
        self, sender: str, recipients: list[str], mail_options: tuple[str, ...]
    ) -> tuple[smtplib.SMTP, int, bytes]:
        """MAIL FROM on the open connection (connecting first when there is none): the connection and the reply.
        A server that closed the idle connection gets one fresh connection; nothing was spent."""
        reused = self._smtp is not None
        smtp = self._smtp = self._smtp or self._connect()
        try:
            smtp.ehlo_or_helo_if_needed()
            # A Unicode local part needs SMTPUTF8 announced: SmtpUtf8Unsupported lets the next route try.
            ensure_smtputf8(smtp, [sender, *recipients], route=self.route.name)
            code, reply = smtp.mail(sender, mail_options)
        except (smtplib.SMTPServerDisconnected, OSError):
            if not reused:
                raise
            code, reply = 421, b"connection closed while idle"
        if code == 421 and reused:
            self._reset()
            self._smtp = smtp = self._connect()
            ensure_smtputf8(smtp, [sender, *recipients], route=self.route.name)
            code, reply = smtp.mail(sender, mail_options)
        return smtp, code, reply

    def _transmit(self, smtp: smtplib.SMTP, content: bytes) -> None:
        """The content after DATA was accepted: a lost connection or a timeout before the final reply (waited
        for up to the route's `data_timeout`) leaves the outcome unknown."""
        try:
            if smtp.sock is not None:  # RFC 5321 4.5.3.2.6: the end-of-data reply may take minutes
                smtp.sock.settimeout(self.route.data_timeout)
            smtp.send(content)
            code, reply = smtp.getreply()
            if smtp.sock is not None:
                smtp.sock.settimeout(self.route.timeout)
        except (smtplib.SMTPException, OSError) as exc:
            self._reset()
            raise SmtpOutcomeUnknown(
                f"connection lost after the message was sent, before the server's reply: {_describe(exc)}"
            ) from exc
        if code != 250:
            self._reset()
            raise smtp_error((code, reply), what="rejected")

    def check(self) -> None:
        """Connect, EHLO, STARTTLS / TLS and log in as the route says, then QUIT: no mail (`leadgen health`).
        Raises RouteUnavailable (its cause is the underlying error) as a send would."""
        smtp = self._connect()
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            _quietly_close(smtp)

    def probe(self) -> str | None:
        """`check` as a value: None when the route can be used, else the one line naming the route and the
        setting to check."""
        try:
            self.check()
        except RouteUnavailable as exc:
            return str(exc)
        return None

    def _reset(self) -> None:
        if self._smtp is not None:
            _quietly_close(self._smtp)
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            finally:
                _quietly_close(self._smtp)
                self._smtp = None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__} {exc}".strip()


def _flatten(message: EmailMessage, sender: str, recipients: list[str]) -> tuple[bytes, tuple[str, ...]]:
    """The DATA payload (CRLF line ends, leading dots doubled, final `.` line) and the MAIL options, as
    smtplib.send_message would build them (SMTPUTF8 when an address is not ASCII)."""
    international = not all(a.isascii() for a in (sender, *recipients))
    buffer = io.BytesIO()
    if international:
        base = message.policy if isinstance(message.policy, EmailPolicy) else email.policy.SMTP
        BytesGenerator(buffer, policy=base.clone(utf8=True)).flatten(message, linesep="\r\n")
        options: tuple[str, ...] = ("SMTPUTF8", "BODY=8BITMIME")
    else:
        BytesGenerator(buffer).flatten(message, linesep="\r\n")
        options = ()
    data = LINE_END_RE.sub(b"\r\n", buffer.getvalue())
    data = LEADING_DOT_RE.sub(b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n", options


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.close()
    except OSError:
        pass


class RecordingMailer:
    """Keeps every message in memory (thread-safe); `fail` maps a recipient to an error raised instead."""

    def __init__(self, name: str = "recording") -> None:
        self.name = name
        self.sent: list[EmailMessage] = []
        self.fail: dict[str, Exception] = {}
        self.closed = False
        self._lock = threading.Lock()

    def send(self, message: EmailMessage, /, *, before_data: BeforeData | None = None) -> None:
        for rcpt in envelope_recipients(message):
            error = self.fail.get(rcpt.lower())
            if error is not None:
                raise error
        if before_data is not None:
            before_data()
        with self._lock:
            self.sent.append(message)

    def close(self) -> None:
        self.closed = True


FILENAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


class DryRunMailer:
    """Writes each message as `<Message-ID>.eml` into a folder instead of sending it. The folder must exist
    (outputs never create folders): a missing one is refused here, before any message is read."""

    def __init__(self, directory: Path) -> None:
        self.name = "dry-run"
        self.directory = Path(directory)
        self.written: list[Path] = []
        if not self.directory.is_dir():
            raise OutputUnusable(
                f"OUTREACH_DRY_RUN_DIR {self.directory} is not an existing folder: create it first"
            )

    def send(self, message: EmailMessage, /, *, before_data: BeforeData | None = None) -> None:
        stem = FILENAME_RE.sub("_", str(message["Message-ID"] or "message").strip("<>"))[:150]
        path = self.directory / f"{stem}.eml"
        utf8 = needs_smtputf8(envelope_recipients(message))  # RFC 6532 headers for a Unicode local part
        path.write_bytes(message.as_bytes(policy=email.policy.SMTPUTF8 if utf8 else email.policy.SMTP))
        self.written.append(path)

    def close(self) -> None:
        return None

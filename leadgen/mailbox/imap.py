"""A read-only IMAP folder over IMAPClient: connect (TLS, STARTTLS or plain), log in, list new UIDs, fetch them.

The folder is opened with EXAMINE (read-only) and bodies are fetched with BODY.PEEK[], so reading never sets
\\Seen, moves or deletes anything. Every failure of the library, the socket or TLS leaves as a `MailboxError`.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, IMAPClientAbortError, IMAPClientError, LoginError

from leadgen.errors import ConfigurationError, MailboxRefused, MailboxUnavailable
from leadgen.settings import ImapRoute

# Bounces, replies and out-of-office answers are small; a larger message (an attachment sent back) is read up to
# its first MAX_MESSAGE_BYTES, which hold the headers and the text and DSN parts, so one huge message cannot
# exhaust memory. BODY.PEEK[]<0.N> is answered with the item BODY[]<0>.
MAX_MESSAGE_BYTES = 2 * 1024 * 1024
FETCH_ITEM = f"BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>".encode()
BODY = b"BODY[]<0>"


class Mailbox(Protocol):
    """The seam `sync_mailbox` reads through: one selected folder of one account.

    >>> with open_mailbox(settings.imap_route("yandex")) as box:
    ...     for uid, raw in box.fetch(box.uids_after(0)):
    ...         ...
    """

    uidvalidity: int

    def uids_after(self, last_uid: int, /) -> list[int]: ...

    def fetch(self, uids: Sequence[int], /, *, batch_size: int = 50) -> Iterator[tuple[int, bytes]]: ...

    def __enter__(self) -> Mailbox: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def not_configured(route: ImapRoute) -> str:
    """Why a route's mailbox is not read, naming the settings to set."""
    prefix = f"IMAP_{route.name.upper()}"
    return (
        f"the IMAP mailbox of route {route.name} is not configured: "
        f"set {prefix}_HOST, {prefix}_USERNAME and {prefix}_PASSWORD"
    )


def ssl_context(route: ImapRoute) -> ssl.SSLContext:
    """The system CAs, plus IMAP_CA_FILE when set (a test server's self-signed certificate)."""
    context = ssl.create_default_context()
    if route.ca_file:
        context.load_verify_locations(cafile=str(route.ca_file))
    return context


@contextmanager
def imap_errors(route: ImapRoute, doing: str) -> Iterator[None]:
    """Translate IMAPClient, socket and TLS failures into one-line `MailboxError`s naming the server."""
    where = f"{route.host}:{route.port}"
    try:
        yield
    except LoginError as exc:
        raise MailboxRefused(
            f"IMAP server {where} refused the login of {route.username}: {_text(exc)}"
        ) from exc
    except CapabilityError as exc:
        raise MailboxRefused(f"IMAP server {where} cannot {doing}: {_text(exc)}") from exc
    except IMAPClientAbortError as exc:
        raise MailboxUnavailable(
            f"IMAP server {where} dropped the connection ({doing}): {_text(exc)}"
        ) from exc
    except IMAPClientError as exc:
        raise MailboxRefused(f"IMAP server {where} refused to {doing}: {_text(exc)}") from exc
    except ssl.SSLError as exc:  # before OSError, its base
        raise MailboxUnavailable(f"TLS with IMAP server {where} failed: {_text(exc)}") from exc
    except TimeoutError as exc:
        raise MailboxUnavailable(f"IMAP server {where} timed out ({doing})") from exc
    except OSError as exc:
        raise MailboxUnavailable(f"cannot reach IMAP server {where} ({doing}): {_text(exc)}") from exc


def _text(exc: BaseException) -> str:
    """The first line of an exception, without imaplib's bytes repr (b'...')."""
    text = str(exc).strip() or type(exc).__name__
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    return text.splitlines()[0]


def login(route: ImapRoute, *, context: ssl.SSLContext | None = None) -> IMAPClient:
    """Connect to the route's server (TLS, STARTTLS or plain) and log in; no folder selected yet."""
    context = context or ssl_context(route)
    with imap_errors(route, "connect"):
        client = IMAPClient(
            route.host,
            port=route.port,
            ssl=route.security == "ssl",
            ssl_context=context,
            timeout=route.timeout,
        )
    try:
        if route.security == "starttls":
            with imap_errors(route, "start TLS"):
                client.starttls(context)
        password = route.password.get_secret_value() if route.password else ""
        with imap_errors(route, "log in"):
            client.login(route.username, password)
    except BaseException:
        client.shutdown()
        raise
    return client


class ImapMailbox:
    """One folder of one account, selected read-only; a context manager that logs out on exit."""

    def __init__(self, route: ImapRoute, *, context: ssl.SSLContext | None = None) -> None:
        if not route.configured:
            raise ConfigurationError(not_configured(route))
        self.route = route
        self.uidvalidity = 0
        self.exists = 0
        self._client = login(route, context=context)
        try:
            with imap_errors(route, f"select folder {route.folder!r}"):
                selected = self._client.select_folder(route.folder, readonly=True)
            if b"UIDVALIDITY" not in selected:  # RFC 3501 requires it; without it no cursor can be trusted
                raise MailboxRefused(
                    f"IMAP server {route.host}:{route.port} sent no UIDVALIDITY for folder {route.folder!r}"
                )
            self.uidvalidity = int(selected[b"UIDVALIDITY"])
            self.exists = int(selected.get(b"EXISTS", 0))
        except BaseException:
            self._client.shutdown()
            raise

    def uids_after(self, last_uid: int, /) -> list[int]:
        """UIDs above `last_uid`, ascending (`n:*` also matches the highest UID when n is past it: dropped)."""
        with imap_errors(self.route, "search the folder"):
            found = self._client.search(["UID", f"{last_uid + 1}:*"])
        return sorted(int(uid) for uid in found if int(uid) > last_uid)

    def fetch(self, uids: Sequence[int], /, *, batch_size: int = 50) -> Iterator[tuple[int, bytes]]:
        """(uid, raw RFC 5322 bytes, at most MAX_MESSAGE_BYTES) in the order given, `batch_size` per FETCH;
        expunged UIDs are skipped."""
        for start in range(0, len(uids), batch_size):
            batch = list(uids[start : start + batch_size])
            with imap_errors(self.route, "fetch messages"):
                answer = self._client.fetch(batch, [FETCH_ITEM])
            for uid in batch:
                data = answer.get(uid)
                raw = (data or {}).get(BODY, (data or {}).get(b"BODY[]"))  # servers that echo no origin
                if isinstance(raw, bytes):
                    yield uid, raw

    def close(self) -> None:
        """Log out, or drop the socket when the server is gone already."""
        try:
            self._client.logout()
        except (IMAPClientError, OSError):
            try:
                self._client.shutdown()
            except OSError:
                pass

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_mailbox(route: ImapRoute) -> ImapMailbox:
    """Connect, log in and select the route's folder read-only (the default `client_factory` of the sync)."""
    return ImapMailbox(route)

"""A route's sent folder searched read-only by Message-ID: the evidence that its SMTP server accepted a message."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from types import TracebackType

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from leadgen.errors import MailboxError, MailboxRefused
from leadgen.mailbox.imap import imap_errors, login
from leadgen.settings import RouteName, SentCopies, Settings

SENT_FLAG = b"\\Sent"  # RFC 6154 SPECIAL-USE
HEADER = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"


@dataclass(frozen=True, slots=True)
class SentSearch:
    """Where a Message-ID was looked for, and the UID of its copy (None: no copy there)."""

    route: str
    folder: str
    uidvalidity: int
    uid: int | None


def pick_folder(listing: list[tuple[tuple[bytes, ...], object, str]], copies: SentCopies) -> str | None:
    """IMAP_<ROUTE>_SENT_FOLDER when set, else the folder flagged \\Sent, else the first usual name listed."""
    if copies.folder:
        return copies.folder
    for flags, _delimiter, name in listing:
        if SENT_FLAG in flags:
            return name
    names = {name for _flags, _delimiter, name in listing}
    return next((name for name in copies.usual if name in names), None)


class RouteSentFolder:
    """One route's sent folder, selected read-only (EXAMINE); `find` never sets a flag."""

    def __init__(self, copies: SentCopies) -> None:
        route = copies.route
        self.route = route
        self.client: IMAPClient = login(route)
        try:
            with imap_errors(route, "list folders"):
                listing = self.client.list_folders()  # names decoded from modified UTF-7 by IMAPClient
            folder = pick_folder(listing, copies)
            if folder is None:
                prefix = f"IMAP_{route.name.upper()}_SENT_FOLDER"
                raise MailboxRefused(
                    f"no sent folder found in the {route.name} mailbox ({route.username}): set {prefix}"
                )
            self.folder = folder
            with imap_errors(route, f"select folder {folder!r}"):
                selected = self.client.select_folder(folder, readonly=True)
            self.uidvalidity = int(selected.get(b"UIDVALIDITY", 0))
        except BaseException:
            self.client.shutdown()
            raise

    def find(self, message_id: str) -> SentSearch:
        """`UID SEARCH HEADER Message-ID <id>`, each hit confirmed by its exact Message-ID header."""
        with imap_errors(self.route, f"search {self.folder!r}"):
            self.client.noop()  # see copies stored since the folder was selected
            uids = sorted(self.client.search(["HEADER", "Message-ID", message_id]))
            headers = self.client.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
        for uid in uids:
            raw = (headers.get(uid) or {}).get(HEADER, b"")
            value = message_from_bytes(raw, policy=policy.default)["Message-ID"] if raw else None
            if value is not None and str(value).strip() == message_id.strip():
                return SentSearch(self.route.name, self.folder, self.uidvalidity, int(uid))
        return SentSearch(self.route.name, self.folder, self.uidvalidity, None)

    def close(self) -> None:
        try:
            self.client.logout()
        except (IMAPClientError, OSError):  # the server is gone already
            try:
                self.client.shutdown()
            except OSError:
                pass


class ImapSentSearcher:
    """`SentSearcher` over IMAP: one connection per route, opened on first use, closed on exit. A route whose
    mailbox cannot be read raises the same `MailboxError` for each of its messages (one attempt per run)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._open: dict[str, RouteSentFolder | MailboxError] = {}

    def find(self, route: str, message_id: str, /) -> SentSearch:
        copies = self.settings.sent_copies(route)  # type: ignore[arg-type]
        if copies is None:
            raise MailboxRefused(f"route {route} keeps no sent copies to search")
        if route not in self._open:
            try:
                self._open[route] = RouteSentFolder(copies)
            except MailboxError as exc:
                self._open[route] = exc
        folder = self._open[route]
        if isinstance(folder, MailboxError):
            raise folder
        try:
            return folder.find(message_id)
        except MailboxError as exc:
            self._open[route] = exc
            folder.close()
            raise

    def __enter__(self) -> ImapSentSearcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for folder in self._open.values():
            if isinstance(folder, RouteSentFolder):
                folder.close()
        self._open.clear()


def sent_copy_routes(settings: Settings, names: tuple[RouteName, ...]) -> dict[str, bool]:
    """Route -> whether its sent copies are reliable, for the routes whose sent folder is searched."""
    found = {name: settings.sent_copies(name) for name in names}
    return {name: copies.reliable for name, copies in found.items() if copies is not None}

"""What a provider does with submitted mail: save the exact bytes received into a sent folder (IMAP APPEND)."""

from __future__ import annotations

import threading

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from leadgen.errors import MailboxError
from leadgen.mailbox.imap import imap_errors, login
from leadgen.settings import ImapRoute


class SentFolderCopier:
    """Appends each message to `folder` of the mailbox `route` (created when missing), over one connection kept
    open and opened again once when it broke. Thread-safe: the SMTP sink calls it from worker threads."""

    def __init__(self, route: ImapRoute, folder: str) -> None:
        self.route = route
        self.folder = folder
        self.appended = 0
        self._client: IMAPClient | None = None
        self._lock = threading.Lock()

    def append(self, raw: bytes) -> None:
        """Store `raw` as is, flagged \\Seen as a sent copy is; raises MailboxError when it could not be kept."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    client = self._connect()
                    with imap_errors(self.route, f"append to {self.folder!r}"):
                        client.append(self.folder, raw, flags=[b"\\Seen"])
                    self.appended += 1
                    return
                except MailboxError:
                    self._drop()
                    if attempt == 2:
                        raise

    def _connect(self) -> IMAPClient:
        if self._client is None:
            client = login(self.route)
            with imap_errors(self.route, f"create folder {self.folder!r}"):
                if not client.folder_exists(self.folder):
                    client.create_folder(self.folder)
            self._client = client
        return self._client

    def _drop(self) -> None:
        if self._client is not None:
            try:
                self._client.shutdown()
            except OSError:
                pass
            self._client = None

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.logout()
                except (IMAPClientError, OSError):
                    self._drop()
                self._client = None

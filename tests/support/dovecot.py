"""A throw-away Dovecot IMAP server for the tests: loopback ports, a passwd-file user, a Maildir the tests fill.

`dovecot -F -c <conf>` runs in the foreground with every path under one temporary directory (base_dir, state_dir,
log, passwd-file, Maildir), so it needs no root-only path. It serves plain IMAP and STARTTLS on one port and
implicit TLS on another, with a self-signed certificate the client trusts through IMAP_CA_FILE. Run as root (CI),
its login, internal and mail processes use `nobody` (Dovecot refuses to run them as root); otherwise they run as
the current user.
"""

from __future__ import annotations

import grp
import mailbox
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from leadgen_sandbox.tlscert import make_self_signed

BINARY = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
MISSING = "dovecot not installed: apt-get install dovecot-imapd"
USER = "leads"
PASSWORD = "s3cret-imap"


class DovecotStartError(RuntimeError):
    """Dovecot did not start; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Dovecot:
    """A running server: where to connect, who to log in as, and the Maildir behind the INBOX."""

    host: str
    port: int  # plain IMAP and STARTTLS
    tls_port: int  # implicit TLS (imaps)
    username: str
    password: str
    root: Path
    maildir_path: Path
    ca_file: Path
    uid: int
    gid: int
    process: subprocess.Popen[bytes]

    @property
    def maildir(self) -> mailbox.Maildir:
        return mailbox.Maildir(self.maildir_path, factory=None, create=False)

    def deliver(self, *raws: bytes) -> None:
        """Drop messages into the INBOX as an MTA would (Maildir new/), readable by the server's user."""
        box = self.maildir
        for raw in raws:
            key = box.add(raw)
            if os.geteuid() == 0:
                os.chown(self.maildir_path / "new" / key, self.uid, self.gid)

    def clear(self) -> None:
        """Empty the INBOX and forget its UIDs: the next session sees a new folder with a new UIDVALIDITY."""
        for sub in ("new", "cur", "tmp"):
            for path in (self.maildir_path / sub).iterdir():
                path.unlink()
        self.forget_uids()

    def forget_uids(self) -> None:
        """Delete the UID list and indexes (as a restore from backup or a server move does): the next session
        assigns new UIDs under a new UIDVALIDITY to the same messages."""
        for path in self.maildir_path.iterdir():
            if path.name.startswith(("dovecot-uidlist", "dovecot.index")):
                path.unlink()

    def env(self, route: str = "yandex", *, security: str = "plain") -> dict[str, str]:
        """IMAP_* settings of a route pointing at this server."""
        prefix = f"IMAP_{route.upper()}"
        return {
            f"{prefix}_HOST": self.host,
            f"{prefix}_PORT": str(self.tls_port if security == "ssl" else self.port),
            f"{prefix}_SECURITY": security,
            f"{prefix}_USERNAME": self.username,
            f"{prefix}_PASSWORD": self.password,
            f"{prefix}_FOLDER": "INBOX",
            "IMAP_CA_FILE": str(self.ca_file),
            "IMAP_TIMEOUT_SECONDS": "10",
        }


def _accounts() -> tuple[str, int, str, int]:
    """(service user, its uid, its group, gid): `nobody` under root, else the current user."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam("nobody")
    else:
        entry = pwd.getpwuid(os.geteuid())
    return entry.pw_name, entry.pw_uid, grp.getgrgid(entry.pw_gid).gr_name, entry.pw_gid


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
first_valid_gid = {gid}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
# Wrong-password tests: no 2 s failure delay (the per-IP penalty still delays the next login a few seconds).
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
mail_location = maildir:{root}/home/Maildir
# The sent folders of the settlement tests (issue 23): a Russian name (modified UTF-7 on the wire) flagged \\Sent
# (RFC 6154 SPECIAL-USE) as Yandex's is, and Gmail's hierarchy under a "/" separator.
namespace inbox {{
  inbox = yes
  separator = /
  mailbox "Отправленные" {{
    auto = create
    special_use = \\Sent
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
"""


@contextmanager
def dovecot_server(*, timeout: float = 20.0) -> Iterator[Dovecot]:
    """Start Dovecot in a temporary directory, wait until it answers, yield it, and stop it."""
    if BINARY is None:
        raise FileNotFoundError(MISSING)
    user, uid, group, gid = _accounts()
    root = Path(tempfile.mkdtemp(prefix="leadgen-dovecot-"))  # not under pytest's 0700 tmp: `nobody` reads it
    try:
        root.chmod(0o755)
        cert = make_self_signed(root / "tls")
        (root / "tls").chmod(0o755)
        home = root / "home"
        maildir_path = home / "Maildir"
        home.mkdir()
        mailbox.Maildir(maildir_path, create=True)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{home}::\n")
        port, tls_port = free_port(), free_port()
        conf = root / "dovecot.conf"
        conf.write_text(
            CONFIG.format(
                root=root,
                user=user,
                group=group,
                uid=uid,
                gid=gid,
                cert=cert.cert,
                key=cert.key,
                port=port,
                tls_port=tls_port,
            )
        )
        if os.geteuid() == 0:
            for path in [home, *home.rglob("*")]:
                os.chown(path, uid, gid)
        process = subprocess.Popen(
            [BINARY, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        server = Dovecot(
            host="127.0.0.1",
            port=port,
            tls_port=tls_port,
            username=USER,
            password=PASSWORD,
            root=root,
            maildir_path=maildir_path,
            ca_file=cert.cert,
            uid=uid,
            gid=gid,
            process=process,
        )
        try:
            _wait_until_ready(server, timeout)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            if process.stderr:
                process.stderr.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_ready(server: Dovecot, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            with socket.create_connection((server.host, server.port), timeout=1) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    log = server.root / "dovecot.log"
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    stderr = (
        server.process.stderr.read().decode(errors="replace")
        if server.process.poll() is not None and server.process.stderr
        else ""
    )
    raise DovecotStartError(f"dovecot did not answer on {server.host}:{server.port}: {stderr} {tail}".strip())


@pytest.fixture(scope="session")
def dovecot_session() -> Iterator[Dovecot]:
    """One Dovecot for the test session; skips (saying what to install) when the binary is missing."""
    if BINARY is None:
        pytest.skip(MISSING)
    try:
        with dovecot_server() as server:
            yield server
    except DovecotStartError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def dovecot(dovecot_session: Dovecot) -> Dovecot:
    """The session's Dovecot with an empty INBOX (a new UIDVALIDITY: each test starts from a new folder)."""
    dovecot_session.clear()
    return dovecot_session

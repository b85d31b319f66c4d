"""Crawler SSRF with real sockets: the production client (`Crawler.build`, DNS pinning) against loopback servers.

tests/contacts/test_crawler.py and test_ssrf.py (issue 6) check the guard through a mock transport. Here the
requests really leave the process: a loopback "site" redirects and links to a loopback "trap" server by every
spelling of a private address, names resolve (through an injected resolver) to private addresses, and bodies are
endless or oversized. The trap must never see a connection, and a safety net refuses — and records — any connect
to a non-loopback address, so the test itself never sends traffic off the machine.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpcore
import httpcore._backends.auto as httpcore_auto
import pytest

from leadgen import errors
from leadgen.settings import Settings

Crawler = pytest.importorskip("leadgen.contacts.crawler", reason="needs issue 6 (crawler) merged").Crawler

pytestmark = pytest.mark.anyio


class Trap:
    """A loopback TCP listener that only counts connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class _CloseAfterResponse:
    """Writer wrapper adding `Connection: close` to the status line's headers: the server closes every connection
    after one response, and without the header a pooled client may reuse the closing socket (a ReadError race)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            status, _, rest = data.partition(b"\r\n")
            data = status + b"\r\nConnection: close\r\n" + rest
        self._writer.write(data)

    async def drain(self) -> None:
        await self._writer.drain()


class Site:
    """A loopback HTTP/1.1 server with routes: redirects, a page of hostile links, endless and oversized bodies."""

    def __init__(self, trap_port: int) -> None:
        self.trap = trap_port
        self.robots_location: str | None = None
        self.paths: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.base_events.Server | None = None
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(asyncio.start_server(self.handle, "127.0.0.1", 0))
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await reader.readline()).decode()
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            path = line.split(" ")[1] if " " in line else "/"
            self.paths.append(path)
            await self.respond(path, _CloseAfterResponse(writer))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def respond(self, path: str, writer: _CloseAfterResponse) -> None:
        if path.startswith("/go/"):
            target = path[len("/go/") :].replace("TRAP", str(self.trap))
            writer.write(f"HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n".encode())
        elif path == "/robots.txt" and self.robots_location:
            writer.write(
                f"HTTP/1.1 302 Found\r\nLocation: {self.robots_location}\r\nContent-Length: 0\r\n\r\n".encode()
            )
        elif path == "/endless":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"<p>" + b"x" * 65_000 + b"</p>"
            while True:
                writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
        elif path == "/huge":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10000000000\r\n\r\n")
            for _ in range(100):
                writer.write(b"<p>" + b"y" * 65_000 + b"</p>")
                await writer.drain()
        elif path == "/trickle":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<p>")
            for _ in range(100):
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(b"z")
        elif path == "/":
            links = "".join(
                f'<a href="{href.replace("TRAP", str(self.trap))}">Контакты</a>'
                for href in (*HOSTILE_LINKS, "/kontakty")
            )
            body = f"<html><body><p>ООО Ромашка, info@romashka.ru</p>{links}</body></html>".encode()
            head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
            writer.write(head.encode() + body)
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    def close(self) -> None:
        async def stop() -> None:
            assert self.server is not None
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


REDIRECTS = [
    "http://127.0.0.1:TRAP/admin",
    "http://localhost:TRAP/",
    "http://trap.test:TRAP/",
    "http://2130706433:TRAP/",
    "http://0x7f.0.0.1:TRAP/",
    "http://127.1:TRAP/",
    "http://017700000001:TRAP/",
    "http://[::1]:TRAP/",
    "http://[::ffff:127.0.0.1]:TRAP/",
    "http://0.0.0.0:TRAP/",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://rebind.ru:TRAP/",
    "http://private.ru:TRAP/",
    "http://user@127.0.0.1:TRAP/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:TRAP/_SLAVEOF",
    "ftp://127.0.0.1:TRAP/",
    "javascript:alert(1)",
    "dict://127.0.0.1:TRAP/",
]
HOSTILE_LINKS = list(REDIRECTS)
ZONE = {
    "site.test": ["127.0.0.1"],
    "trap.test": ["127.0.0.1"],
    "private.ru": ["10.20.30.40"],
    "rebind.ru": ["93.184.216.34", "127.0.0.1"],  # one public, one loopback: refused
    "metadata.google.internal": ["169.254.169.254"],
}


async def resolver(host: str) -> list[str]:
    if host not in ZONE:
        raise OSError(f"no such host {host}")
    return ZONE[host]


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Site, Trap, list[tuple[str, int]]]]:
    """Loopback site and trap; every outgoing connect is recorded, and refused unless it goes to 127.0.0.1."""
    attempts: list[tuple[str, int]] = []
    real = httpcore_auto.AutoBackend.connect_tcp

    async def guarded(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        attempts.append((host, port))
        if host != "127.0.0.1":
            raise httpcore.ConnectError(f"test safety net: refused connect to {host}")
        return await real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore_auto.AutoBackend, "connect_tcp", guarded)
    trap = Trap()
    site = Site(trap.port)
    try:
        yield site, trap, attempts
    finally:
        site.close()
        trap.close()


def crawler(**kw: Any) -> Crawler:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        crawl_allow_private_hosts=["site.test"],
        crawl_timeout_seconds=kw.pop("timeout", 3.0),
        crawl_max_body_bytes=kw.pop("cap", 256 * 1024),
        crawl_per_host_delay_seconds=0,
        **kw,
    )
    return Crawler.build(settings, resolver=resolver)


@pytest.mark.parametrize("location", REDIRECTS)
async def test_redirects_to_private_targets_are_refused_before_connecting(net: Any, location: str) -> None:
    site, trap, attempts = net
    async with crawler() as c:
        with pytest.raises((errors.UnsafeTarget, errors.FetchFailed)):
            await c.fetch(f"http://site.test:{site.port}/go/{location}")
    assert trap.connections == 0
    assert all(host == "127.0.0.1" and port == site.port for host, port in attempts), attempts


async def test_a_crawl_never_follows_hostile_links(net: Any) -> None:
    site, trap, attempts = net
    async with crawler() as c:
        result = await c.crawl(f"http://site.test:{site.port}/")
    assert result.reachable
    assert any(contact.value == "info@romashka.ru" for contact in result.contacts)
    assert trap.connections == 0
    assert {port for _, port in attempts} == {site.port}


@pytest.mark.parametrize(
    "start", ["http://private.ru/", "http://rebind.ru/", "http://trap.test/", "http://127.0.0.1/"]
)
async def test_start_urls_resolving_to_private_addresses_are_never_contacted(net: Any, start: str) -> None:
    _site, trap, attempts = net
    async with crawler() as c:
        result = await c.crawl(start)
    assert not result.reachable and result.error
    assert attempts == [] and trap.connections == 0


@pytest.mark.parametrize("location", ["javascript:alert(1)", "http://127.0.0.1:1/robots.txt"])
async def test_a_hostile_robots_redirect_is_a_typed_failure(net: Any, location: str) -> None:
    site, trap, attempts = net
    site.robots_location = location
    async with crawler() as c:
        try:
            await c.fetch(f"http://site.test:{site.port}/")
        except (errors.UnsafeTarget, errors.FetchFailed, errors.RobotsDisallowed):
            pass
    assert trap.connections == 0 and {port for _, port in attempts} == {site.port}


@pytest.mark.parametrize("path", ["/endless", "/huge"])
async def test_endless_and_oversized_bodies_are_capped(net: Any, path: str) -> None:
    site, _trap, _ = net
    t0 = time.monotonic()
    async with crawler(cap=200_000) as c:
        page = await c.fetch(f"http://site.test:{site.port}{path}", check_robots=False)
    assert page.truncated and len(page.body) <= 200_000
    assert time.monotonic() - t0 < 5


async def test_a_trickling_body_hits_the_timeout(net: Any) -> None:
    site, _trap, _ = net
    t0 = time.monotonic()
    async with crawler(timeout=0.5) as c:
        with pytest.raises(errors.FetchFailed, match="timeout"):
            await c.fetch(f"http://site.test:{site.port}/trickle", check_robots=False)
    assert time.monotonic() - t0 < 3

"""Loopback HTTP server serving generated company sites by Host header; usable as the crawler's HTTP proxy.

    with SiteFarm(seed=1) as farm:                      # starts on 127.0.0.1:<free port> in a thread
        settings = Settings(crawl_proxy_url=farm.proxy_url, ...)
        farm.truth("romashka-0-s1.ru")                  # ground truth of one site (also GET /__farm__/truth.json)

Requests may use the origin form with a Host header or the absolute form of proxies (`GET http://host/ HTTP/1.1`).
CONNECT is refused (405), so https:// URLs fail through the farm and the crawler falls back to http://.
Sites are generated on the fly from a RNG seeded by (seed, domain): 5,000 sites cost nothing until requested.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from leadgen_sandbox.farm_pages import render
from leadgen_sandbox.farm_sites import farm_domains, site_for

REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found", 405: "Method Not Allowed",
           400: "Bad Request", 500: "Internal Server Error"}  # fmt: skip
MAX_HEADER_LINES = 100
PAD_CHUNK = ("<p>" + "Padding of a huge page. " * 2800 + "</p>\n").encode()[:65536]


class SiteFarm:
    """The farm server: a context manager exposing `url`/`proxy_url`/`port`, `truth(domain)` and `domains(n)`."""

    def __init__(
        self,
        *,
        seed: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        slow_seconds: float = 5.0,
        huge_bytes: int = 3 * 1024 * 1024,
    ) -> None:
        self.seed = seed
        self.host = host
        self.port = port
        self.slow_seconds = slow_seconds
        self.huge_bytes = huge_bytes
        self.requests = 0
        self.hosts_seen: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def proxy_url(self) -> str:
        return self.url

    def truth(self, domain: str) -> dict[str, object]:
        return site_for(domain, seed=self.seed).truth()

    def domains(self, count: int) -> list[str]:
        return farm_domains(count, seed=self.seed)

    def __enter__(self) -> SiteFarm:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="site-farm", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("site farm did not start")

    def stop(self) -> None:
        if self._loop is not None and self._server is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(
            asyncio.start_server(self.handle, self.host, self.port, backlog=1024)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._started.set()
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def serve_forever(self) -> None:
        """Run in the current event loop until cancelled (for `python -m leadgen_sandbox.site_farm`)."""
        self._server = await asyncio.start_server(self.handle, self.host, self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        async with self._server:
            await self._server.serve_forever()

    # --- HTTP -------------------------------------------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:  # farm shutting down: end quietly
            pass
        finally:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                writer.close()
                await writer.wait_closed()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        parts = line.decode("latin-1").split()
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if len(parts) != 3:
            await self._write(writer, 400, b"bad request", "text/plain", {}, 1, keep=False)
            return False
        method, target, version = parts
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if method == "CONNECT":
            await self._write(writer, 405, b"CONNECT not supported", "text/plain", {}, 1, keep=False)
            return False
        if target.startswith(("http://", "https://")):
            split = urlsplit(target)
            host, path = (
                (split.hostname or ""),
                (split.path or "/") + (f"?{split.query}" if split.query else ""),
            )
        else:
            host, path = _strip_port(headers.get("host", "")), target
        host = host.lower().rstrip(".")
        self.requests += 1
        self.hosts_seen[host] = self.hosts_seen.get(host, 0) + 1
        site = site_for(host or "unknown.invalid", seed=self.seed)
        if site.kind == "slow" and not path.startswith("/__farm__/"):
            await asyncio.sleep(self.slow_seconds)
        status, body, ctype, extra, pad = render(
            site, unquote(path), seed=self.seed, huge_bytes=self.huge_bytes
        )
        if method == "HEAD":
            body, pad = b"", 0
        await self._write(writer, status, body, ctype, extra, pad, keep=keep)
        return keep

    async def _write(
        self, writer: asyncio.StreamWriter, status: int, body: bytes, ctype: str, extra: dict[str, Any],
        pad: int, *, keep: bool,
    ) -> None:  # fmt: skip
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}", f"Content-Type: {ctype}"]
        head.append(f"Content-Length: {len(body) + pad}")
        head.extend(f"{k}: {v}" for k, v in extra.items())
        head.append("Connection: keep-alive" if keep else "Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        while pad > 0:
            chunk = PAD_CHUNK[:pad]
            writer.write(chunk)
            pad -= len(chunk)
            await writer.drain()
        await writer.drain()


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if ":" in host else host


def main() -> None:  # pragma: no cover - manual use
    """`python -m leadgen_sandbox.site_farm [PORT]`: serve the farm in the foreground."""
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8089
    farm = SiteFarm(port=port)
    print(f"site farm on http://127.0.0.1:{port} (use it as CRAWL_PROXY_URL)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(farm.serve_forever())


if __name__ == "__main__":  # pragma: no cover
    main()

"""Contacts benchmarks, one mode per process so each reports its own CPU time and peak RSS.

    python tests/perf/contacts_bench.py extract [SECONDS]          extraction pages/s on one core
    python tests/perf/contacts_bench.py farm PORT SEED              serve the site farm (until killed)
    python tests/perf/contacts_bench.py starts SEED N > FILE        write the start URLs of N farm sites
    python tests/perf/contacts_bench.py leadgen PORT FILE           crawl those sites with leadgen's crawler
    python tests/perf/contacts_bench.py scrapy PORT FILE            the same pages with a minimal Scrapy spider

The crawlers read their start list from a file, as a real job reads its input: building it would import the
sandbox package, which neither crawler needs and which would count in both processes' memory.

Both crawlers get the same politeness (one connection per host, BENCH_DELAY seconds between requests to a
host), global concurrency, timeout, redirect cap, robots.txt, page budget per site, and the same work per page
(leadgen's `analyse_page`), and they fetch the same pages (leadgen's candidate choice). Bodies are treated alike:
a non-HTML body is not read, and a body over the size cap is cut at the cap and analysed (Scrapy's own
DOWNLOAD_MAXSIZE would drop such a response unread, so the spider stops the download at the cap instead, through
the documented `bytes_received` signal and StopDownload(fail=False)).

Memory, each crawler measured the same way: `baseline_rss_mb` is the resident set (VmRSS) once the crawler is
ready to send its first request (imports, start list, engine or clients built, suffix tables loaded); the
kernel's peak counter is reset there (/proc/self/clear_refs), so `crawl_peak_rss_mb` is the highest RSS while
crawling and `crawl_rss_mb` the crawl's own footprint (that peak minus the baseline). `peak_rss_mb` is the
process's whole peak, start-up included: the larger of the start-up peak and the crawl's (VmHWM, never
getrusage's ru_maxrss, which in a process started from pytest is pytest's peak). Each line also gives the load average at the
start and end of the run.
Each prints one JSON line: pages, seconds, pages/s, CPU seconds and the memory figures above.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "64"))
DELAY = float(os.environ.get("BENCH_DELAY", "0.2"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "5"))
MAX_PAGES = int(os.environ.get("BENCH_MAX_PAGES", "4"))
MAX_BYTES = 2 * 1024 * 1024
SLOW_SECONDS = 8.0


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not getrusage's ru_maxrss: for a process started by fork/exec the kernel
    carries the parent's peak into it at exec, so a crawler started from pytest reported pytest's peak (the
    "208 MB for both" of issue 21)."""
    hwm = _vm_hwm_mb()
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_now_mb() -> float:
    """The resident set right now (VmRSS): the baseline a crawl's own footprint is measured above."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return _peak_rss_mb()


def _reset_peak() -> bool:
    """Reset the kernel's peak RSS counter (VmHWM) to the current RSS; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _vm_hwm_mb() -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


class Baseline:
    """The RSS when a crawler is ready to send its first request; the peak counter restarts there."""

    def __init__(self) -> None:
        self.rss_mb: float | None = None
        self.startup_peak_mb = 0.0
        self.reset = False

    def mark(self) -> None:
        if self.rss_mb is None:
            self.rss_mb = round(_rss_now_mb(), 1)
            self.startup_peak_mb = _peak_rss_mb()
            self.reset = _reset_peak()

    def figures(self) -> dict[str, object]:
        """The start-up peak, the crawl's peak and own footprint, and the whole process's peak (their max)."""
        if self.rss_mb is None:
            return {}
        hwm = _vm_hwm_mb() if self.reset else None
        crawl_peak = hwm if hwm is not None else _peak_rss_mb()
        return {
            "baseline_rss_mb": self.rss_mb,
            "startup_peak_rss_mb": round(self.startup_peak_mb, 1),
            "crawl_peak_rss_mb": round(crawl_peak, 1),
            "crawl_rss_mb": round(crawl_peak - self.rss_mb, 1),
            "peak_rss_mb": round(max(self.startup_peak_mb, crawl_peak), 1),
            "peak_counter_reset": hwm is not None,
        }


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _report(name: str, pages: int, contacts: int, started: float, cpu0: float, **extra: object) -> None:
    """One JSON line: throughput, CPU, the process's peak RSS and (with a `baseline`) the crawl's own figures."""
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu0
    baseline = extra.pop("baseline", None)
    if isinstance(baseline, Baseline):
        extra.update(baseline.figures())
    print(
        json.dumps(
            {
                "name": name,
                "pages": pages,
                "contacts": contacts,
                "seconds": round(seconds, 2),
                "pages_per_s": round(pages / seconds, 1),
                "cpu_s": round(cpu, 2),
                "pages_per_cpu_s": round(pages / cpu, 1) if cpu else None,
                "peak_rss_mb": extra.pop("peak_rss_mb", round(_peak_rss_mb(), 1)),
                "load_end": _load(),
                **extra,
            }
        ),
        flush=True,
    )


# --- extraction ---------------------------------------------------------------------------------------------


def corpus() -> list[tuple[str, bytes, str]]:
    """Saved fixture pages plus farm pages (home, contacts, about) of 150 generated sites."""
    from leadgen_sandbox.farm_pages import render
    from leadgen_sandbox.farm_sites import farm_domains, site_for

    pages: list[tuple[str, bytes, str]] = []
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "contacts"
    for path in sorted(fixtures.glob("*.html")):
        pages.append((f"https://{path.stem}.ru/", path.read_bytes(), "text/html"))
    for domain in farm_domains(150, seed=42):
        site = site_for(domain, seed=42)
        for path in ("/", site.contact_path, "/about"):
            status, body, ctype, _, _ = render(site, path, seed=42, huge_bytes=0)
            if status == 200 and ctype.startswith("text/html"):
                pages.append((f"http://{domain}{path}", body, ctype))
    return pages


def bench_extract(seconds: float) -> None:
    from leadgen.contacts.extract import analyse_page

    pages = corpus()
    size = sum(len(body) for _, body, _ in pages) / len(pages)
    # As in the crawler: links are collected on home pages only.
    work = [(url, body, ctype, urlsplit(url).path in ("", "/")) for url, body, ctype in pages]
    for url, body, ctype, home in work:  # warm caches and imports
        analyse_page(body, base_url=url, content_type=ctype, want_links=home)
    done, started, cpu0 = 0, time.perf_counter(), _cpu()
    while time.perf_counter() - started < seconds:
        for url, body, ctype, home in work:
            analyse_page(body, base_url=url, content_type=ctype, want_links=home)
            done += 1
    _report("extract", done, 0, started, cpu0, corpus_pages=len(pages), mean_page_kb=round(size / 1024, 1))
    try:
        import trafilatura
    except ImportError:  # pragma: no cover
        return
    done, started, cpu0 = 0, time.perf_counter(), _cpu()
    while time.perf_counter() - started < seconds / 2:
        for _, body, _ in pages[:60]:
            trafilatura.extract(body)
            done += 1
    _report("trafilatura.extract (visible text, for comparison)", done, 0, started, cpu0)


# --- farm ---------------------------------------------------------------------------------------------------


def serve_farm(port: int, seed: int) -> None:
    from leadgen_sandbox.site_farm import SiteFarm

    farm = SiteFarm(seed=seed, port=port, slow_seconds=SLOW_SECONDS)
    asyncio.run(farm.serve_forever())


def farm_starts(seed: int, count: int) -> list[str]:
    from leadgen_sandbox.farm_sites import farm_domains

    return [f"http://{domain}/" for domain in farm_domains(count, seed=seed)]


def _starts(path: str) -> list[str]:
    return [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line]


# --- leadgen crawler ----------------------------------------------------------------------------------------


def bench_leadgen(port: int, starts_file: str) -> None:
    from leadgen.contacts.crawler import Crawler, SiteCrawl
    from leadgen.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, crawl_proxy_url=f"http://127.0.0.1:{port}", crawl_concurrency=CONCURRENCY,
        crawl_per_host_delay_seconds=DELAY, crawl_timeout_seconds=TIMEOUT, crawl_max_pages_per_company=MAX_PAGES,
        crawl_max_body_bytes=MAX_BYTES, crawl_max_redirects=5,
    )  # fmt: skip
    starts = _starts(starts_file)
    rss_started = round(_rss_now_mb(), 1)  # imports and start list
    load_start = _load()
    baseline = Baseline()
    stats = {"pages": 0, "contacts": 0}

    def tally(_: str, result: SiteCrawl) -> None:  # results are counted and dropped, as enrich_companies does
        stats["pages"] += sum(1 for p in result.pages if p.error is None)
        stats["contacts"] += sum(p.contacts for p in result.pages)  # per page, as the spider counts

    async def main() -> tuple[int, int]:
        async with Crawler.build(settings) as crawler:  # clients built, suffix tables loaded
            baseline.mark()
            await crawler.crawl_many(starts, on_done=tally, collect=False)
        return stats["pages"], stats["contacts"]

    started, cpu0 = time.perf_counter(), _cpu()
    pages, contacts = asyncio.run(main())
    _report("leadgen crawler (httpx async)", pages, contacts, started, cpu0, sites=len(starts), baseline=baseline,
            load_start=load_start, rss_before_crawler_mb=rss_started)  # fmt: skip


# --- scrapy -------------------------------------------------------------------------------------------------


def bench_scrapy(port: int, starts_file: str) -> None:
    import scrapy
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.exceptions import StopDownload

    from leadgen.contacts.candidates import candidate_pages
    from leadgen.contacts.emails import load_suffix_list
    from leadgen.contacts.extract import analyse_page

    proxy = f"http://127.0.0.1:{port}"
    stats = {"pages": 0, "contacts": 0}
    starts = _starts(starts_file)
    rss_started = round(_rss_now_mb(), 1)  # imports and start list
    load_start = _load()
    baseline = Baseline()
    html_types = (b"text/html", b"application/xhtml+xml")

    class ContactsSpider(scrapy.Spider):  # type: ignore[misc]
        name = "contacts"

        @classmethod
        def from_crawler(cls, crawler, *args, **kwargs):  # type: ignore[no-untyped-def]
            spider = super().from_crawler(crawler, *args, **kwargs)
            crawler.signals.connect(spider.on_headers, signal=signals.headers_received)
            crawler.signals.connect(spider.on_bytes, signal=signals.bytes_received)
            return spider

        def on_headers(self, headers, body_length, request, spider):  # type: ignore[no-untyped-def]
            # As leadgen: a non-HTML page body is not read (robots.txt is not a page).
            media = headers.get(b"Content-Type", b"").split(b";", 1)[0].strip().lower()
            if media and media not in html_types and not request.url.endswith("/robots.txt"):
                raise StopDownload(fail=False)

        def on_bytes(self, data, request, spider):  # type: ignore[no-untyped-def]
            # As leadgen: a body over the cap is cut at the cap and analysed, not dropped.
            request.meta["bench_bytes"] = request.meta.get("bench_bytes", 0) + len(data)
            if request.meta["bench_bytes"] >= MAX_BYTES and not request.url.endswith("/robots.txt"):
                raise StopDownload(fail=False)

        async def start(self):  # type: ignore[no-untyped-def]
            load_suffix_list()  # as Crawler.build does
            baseline.mark()  # engine open, middlewares loaded: the first request is next
            for url in starts:
                yield scrapy.Request(url, callback=self.parse_home, meta={"proxy": proxy})

        def start_requests(self):  # type: ignore[no-untyped-def]  # Scrapy < 2.13
            load_suffix_list()
            baseline.mark()
            for url in starts:
                yield scrapy.Request(url, callback=self.parse_home, meta={"proxy": proxy})

        def _analyse(self, response, want_links: bool):  # type: ignore[no-untyped-def]
            ctype = response.headers.get("Content-Type", b"").decode("latin-1")
            if not ctype.lower().startswith(("text/html", "application/xhtml+xml")):
                return None
            body = response.body if len(response.body) <= MAX_BYTES else response.body[:MAX_BYTES]
            analysis = analyse_page(body, base_url=response.url, content_type=ctype, want_links=want_links)
            stats["pages"] += 1
            stats["contacts"] += len(analysis.contacts)
            return analysis

        def parse_home(self, response):  # type: ignore[no-untyped-def]
            analysis = self._analyse(response, True)
            if analysis is None:
                return
            for url in candidate_pages(response.url, analysis.links, limit=MAX_PAGES - 1):
                yield scrapy.Request(url, callback=self.parse_page, meta={"proxy": proxy})

        def parse_page(self, response):  # type: ignore[no-untyped-def]
            self._analyse(response, False)

    # Every request through the farm, robots.txt included: RobotsTxtMiddleware's own requests carry no
    # meta["proxy"], so the proxy is given the way HttpProxyMiddleware reads it for all requests, the environment.
    # (Before, robots.txt went to the real DNS and timed out, so Scrapy waited 5 s per site and obeyed no robots.)
    os.environ["http_proxy"] = proxy
    os.environ.pop("no_proxy", None)
    os.environ.pop("NO_PROXY", None)
    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": CONCURRENCY,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
            "DOWNLOAD_DELAY": DELAY,
            "RANDOMIZE_DOWNLOAD_DELAY": False,
            "ROBOTSTXT_OBEY": True,
            "DOWNLOAD_TIMEOUT": TIMEOUT,
            "DOWNLOAD_MAXSIZE": 0,  # the cap is applied in on_bytes: cut, as leadgen does, not dropped
            "DOWNLOAD_WARNSIZE": 0,
            "REDIRECT_MAX_TIMES": 5,
            "RETRY_ENABLED": False,
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "ERROR",
            "USER_AGENT": "leadgen/0.1 (+bench)",
            "REACTOR_THREADPOOL_MAXSIZE": 4,
        }
    )
    process.crawl(ContactsSpider)
    started, cpu0 = time.perf_counter(), _cpu()
    process.start()
    _report("scrapy spider", stats["pages"], stats["contacts"], started, cpu0, sites=len(starts), baseline=baseline,
            load_start=load_start, rss_before_crawler_mb=rss_started)  # fmt: skip


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "extract":
        bench_extract(float(sys.argv[2]) if len(sys.argv) > 2 else 10.0)
    elif mode == "farm":
        serve_farm(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "starts":
        print("\n".join(farm_starts(int(sys.argv[2]), int(sys.argv[3]))))
    elif mode == "leadgen":
        bench_leadgen(int(sys.argv[2]), sys.argv[3])
    elif mode == "scrapy":
        bench_scrapy(int(sys.argv[2]), sys.argv[3])
    else:
        raise SystemExit(__doc__)

"""The whole sandbox at once: Yandex emulator, site farm, SMTP sink and fake LLM on loopback, and the settings for them.

with SandboxStack() as sandbox:
    overrides = sandbox.settings_overrides(workdir)   # Settings fields pointing every stage at the sandbox
    env = settings_env(overrides)                      # the same as environment variables (flows read those)
"""

from __future__ import annotations

from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import SecretStr

from leadgen.clock import Clock, utc_now
from leadgen_sandbox.fake_llm import FakeLlm
from leadgen_sandbox.farm_sites import is_dead_mailbox
from leadgen_sandbox.serp_xml import DEFAULT_MAX_RESULTS
from leadgen_sandbox.site_farm import SiteFarm
from leadgen_sandbox.smtp_sink import Returns, SmtpSink
from leadgen_sandbox.yandex_emulator import EmulatorConfig, YandexEmulator

DEMO_NICHES = "demo_niches.csv"
DEMO_OFFER = "demo_offer.toml"
DEMO_BATCH = "demo"
QUERIES_PER_NICHE = 2  # two niches in demo_niches.csv: four searches in all
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class SandboxStack:
    """Starts the four loopback services (in that order) and stops them in reverse; a context manager.

    With `maildir`, the SMTP sink returns a DSN for each dead farm mailbox and a reply to the first live one into
    that Maildir when `sink.deliver_returns()` runs (the sandbox's mailbox for the outreach loop).
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        time_to_done: float = 1.0,
        max_results: int = DEFAULT_MAX_RESULTS,
        clock: Clock = utc_now,
        maildir: Path | None = None,
        sent_maildir: Path | None = None,
    ) -> None:
        config = EmulatorConfig(time_to_done=time_to_done, seed=seed, max_results=max_results, clock=clock)
        self.emulator = YandexEmulator(config)
        self.farm = SiteFarm(seed=seed)
        # With a Maildir, dead farm mailboxes bounce (a later DSN) and the first live recipient answers.
        returns = Returns(maildir, unknown_user=is_dead_mailbox, clock=clock) if maildir is not None else None
        # With `sent_maildir`, every message the sink accepts is also written there (what was actually sent).
        self.sink = SmtpSink(returns=returns, maildir=sent_maildir)
        self.llm = FakeLlm()
        self._stack: ExitStack | None = None

    def start(self) -> SandboxStack:
        with ExitStack() as stack:
            for service in (self.emulator, self.farm, self.sink, self.llm):
                stack.enter_context(service)
            self._stack = stack.pop_all()
        return self

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def __enter__(self) -> SandboxStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def addresses(self) -> dict[str, str]:
        """Where each service listens."""
        return {
            "Yandex Search API emulator": self.emulator.url,
            "company site farm (HTTP proxy)": self.farm.proxy_url,
            "SMTP sink": self.sink.url,
            **({"SMTP sink deliveries (Maildir)": str(self.sink.maildir)} if self.sink.maildir else {}),
            "fake LLM (OpenAI-compatible)": self.llm.base_url,
        }

    def settings_overrides(self, workdir: Path) -> dict[str, Any]:
        """Settings fields that route every stage to the sandbox, with the database and files under `workdir`.

        Windows are opened to the whole day and spacing removed so a demo runs at any hour in seconds; MX
        lookups are off (both SMTP routes lead to the sink), and the crawler reaches the farm through its proxy.
        """
        workdir.mkdir(parents=True, exist_ok=True)
        niches = workdir / DEMO_NICHES
        offer = workdir / DEMO_OFFER
        package = resources.files("leadgen_sandbox")
        niches.write_bytes(package.joinpath(DEMO_NICHES).read_bytes())
        offer.write_bytes(package.joinpath(DEMO_OFFER).read_bytes())
        overrides: dict[str, Any] = {
            "database_url": f"sqlite:///{workdir / 'leadgen.db'}",
            "data_dir": workdir / "data",
            **self.emulator.settings_overrides(auth="api_key"),
            "yandex_poll_interval_seconds": 1,
            "night_window": "00:00-23:59",
            "night_window_allow_daytime": True,
            "niches_input": str(niches),
            "planning_spacing_seconds": 0,
            "planning_max_queries_per_niche": QUERIES_PER_NICHE,
            "crawl_proxy_url": self.farm.proxy_url,
            "crawl_per_host_delay_seconds": 0.0,
            "openai_api_key": SecretStr("sk-sandbox"),
            "openai_base_url": self.llm.base_url,
            "outreach_offer_file": offer,
            "outreach_send_window": "00:00-23:59",
            "outreach_send_weekdays": EVERY_DAY,
            "outreach_spacing_seconds": 0.0,
            "outreach_spacing_jitter_seconds": 0.0,
            "outreach_dry_run_dir": workdir / "data" / "outbox",
            "outreach_unsubscribe_mailto": "unsubscribe@dentaplan.example",
            "routing_mx_lookup": False,
            # The demo sends its handful of messages at once; production paces them over the send window.
            "prefect_email_burst": 100,
        }
        for route in ("yandex", "gmail"):
            overrides.update(self.sink.settings_env(route))
        return overrides


def settings_env(overrides: dict[str, Any]) -> dict[str, str]:
    """Settings overrides as environment variables (upper-case names; lists comma-joined; secrets revealed)."""
    env: dict[str, str] = {}
    for name, value in overrides.items():
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list | tuple):
            text = ",".join(str(v) for v in value)
        else:
            text = str(value)
        env[name.upper()] = text
    return env

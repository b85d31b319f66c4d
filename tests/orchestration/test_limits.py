"""Global concurrency limits on a real Prefect server: Yandex calls are spaced, sends stop at the cap."""

from __future__ import annotations

from tests.orchestration.stages import require_stages

require_stages()

import asyncio
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from infra.plan import EMAIL_DAILY, YANDEX_SEARCH, YANDEX_SEARCH_HOURLY, LimitSpec, limit_specs
from leadgen.clock import utc_now
from leadgen.db import make_engine
from leadgen.db.engine import write_scope
from leadgen.db.models import (
    Company,
    CompanyStatus,
    Contact,
    ContactKind,
    ContactSource,
    MessageStatus,
    OutreachMessage,
    QueryStatus,
    SerpQuery,
)
from leadgen.settings import Settings
from leadgen.yandex.limiter import Quota
from leadgen_sandbox.stack import SandboxStack, settings_env
from tasks import outreach as outreach_tasks
from tasks.outreach import send_task
from tasks.search import submit_queries
from tests.orchestration.conftest import closed_window

pytestmark = pytest.mark.slow


def reset_limits(*specs: LimitSpec) -> None:
    """Recreate limits with no slot taken (earlier tests may have used them)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    async def run() -> None:
        async with get_client() as client:
            for spec in specs:
                try:
                    await client.delete_global_concurrency_limit_by_name(spec.name)
                except ObjectNotFound:
                    pass
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(
                        name=spec.name, limit=spec.limit, slot_decay_per_second=spec.slot_decay_per_second
                    )
                )

    asyncio.run(run())


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A migrated SQLite database (the limits live on the Prefect server, not in the pipeline database)."""
    path = tmp_path / "limits.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SandboxStack]:
    with SandboxStack(time_to_done=0) as sandbox:
        yield sandbox


def use_settings(
    monkeypatch: pytest.MonkeyPatch, stack: SandboxStack, tmp_path: Path, **values: object
) -> None:
    overrides = stack.settings_overrides(tmp_path) | values
    for name, value in settings_env(overrides).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)


def test_global_rate_limit_spaces_yandex_calls(
    prefect_api: str,
    sqlite_engine: tuple[str, Engine],
    stack: SandboxStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, engine = sqlite_engine
    # The in-process limiter allows 100/s; only the fleet-wide limit (2 slots, 2 freed per second) can space calls.
    use_settings(monkeypatch, stack, tmp_path, database_url=url, yandex_rps=100, yandex_rpm=6000)
    reset_limits(LimitSpec(YANDEX_SEARCH, 2, 2.0), LimitSpec(YANDEX_SEARCH_HOURLY, 100, 100.0))
    now = utc_now()
    with write_scope(engine) as session:
        for i in range(8):
            session.add(
                SerpQuery(
                    query_text=f"стоматология {i}",
                    region_code="213",
                    query_hash=f"{i:040d}",
                    status=QueryStatus.PENDING,
                    scheduled_for=now - timedelta(minutes=1),
                    batch_tag="limits",
                )
            )

    report = submit_queries.fn(8, "limits")

    assert report["submitted"] == 8
    times = sorted(r.at for r in stack.emulator.recorded("create"))
    assert len(times) == 8
    span = (times[-1] - times[0]).total_seconds()
    # 2 at once, then one slot every 0.5 s at best: at least 6 * 0.5 s minus scheduling slack.
    assert span >= 2.4, f"8 creates within {span:.2f} s: the global limit did not space them"
    busiest = max(sum(1 for t in times if s <= t < s + timedelta(seconds=1)) for s in times)
    assert busiest <= 4, f"{busiest} creates within one second (limit 2 + decay 2/s)"


def add_queued(engine: Engine, count: int) -> None:
    with write_scope(engine) as session:
        for i in range(count):
            domain = f"klinika-{i}.example.ru"
            company = Company(
                name=f"Клиника {i}", canonical_domain=domain, status=CompanyStatus.ENRICHED, batch_tag="cap"
            )
            session.add(company)
            session.flush()
            contact = Contact(
                company_id=company.id,
                kind=ContactKind.EMAIL,
                value=f"info@{domain}",
                source=ContactSource.MAILTO,
                quality_score=1.0,
                is_primary=True,
            )
            session.add(contact)
            session.flush()
            session.add(
                OutreachMessage(
                    contact_id=contact.id,
                    company_id=company.id,
                    campaign="default",
                    to_email=contact.value,
                    status=MessageStatus.QUEUED,
                    subject=f"Предложение для клиники {i}",
                    body="Здравствуйте! " + "Короткое письмо о продукте. " * 12,
                    composer="fallback",
                    queued_at=utc_now(),
                )
            )


def sent_count(engine: Engine) -> int:
    with engine.connect() as conn:
        stmt = (
            select(func.count())
            .select_from(OutreachMessage)
            .where(OutreachMessage.status == MessageStatus.SENT)
        )
        return conn.scalar(stmt) or 0


def test_email_daily_limit_and_database_count_stop_sends(
    prefect_api: str,
    sqlite_engine: tuple[str, Engine],
    stack: SandboxStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, engine = sqlite_engine
    add_queued(engine, 6)
    monkeypatch.setattr(outreach_tasks, "EMAIL_SLOT_TIMEOUT_SECONDS", 1.0)
    # Five slots, practically never freed during the test.
    reset_limits(LimitSpec(EMAIL_DAILY, 5, 1e-4))

    # The database count stops the day at the cap (3), whatever the limit would still allow.
    use_settings(monkeypatch, stack, tmp_path, database_url=url, outreach_daily_cap=3)
    first = send_task.fn(10)
    assert first["sent"] == 3 and first["cap_reached"] is True
    assert sent_count(engine) == 3 == stack.sink.count

    # With a higher cap the database would allow more, but the limit has two slots left (the first run took a
    # batch of three and none once the cap was used): a batch of two, then the run stops for want of a slot.
    use_settings(monkeypatch, stack, tmp_path, database_url=url, outreach_daily_cap=10)
    second = send_task.fn(10)
    assert second["sent"] == 2
    assert second["stopped_reason"] == "no email-daily slot within the timeout"
    assert sent_count(engine) == 5 == stack.sink.count
    recipients = [r for m in stack.sink.messages for r in m.rcpt_tos]
    assert len(recipients) == len(set(recipients))


def test_send_task_marks_crashed_sends_unknown_even_outside_the_window(
    prefect_api: str,
    sqlite_engine: tuple[str, Engine],
    stack: SandboxStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, engine = sqlite_engine
    add_queued(engine, 3)
    with write_scope(engine) as session:
        after_data, before_data, _ = session.scalars(select(OutreachMessage).order_by(OutreachMessage.id))
        for crashed in (after_data, before_data):
            crashed.status = MessageStatus.SENDING
            crashed.sending_started_at = utc_now() - timedelta(hours=3)
            crashed.attempts = 1
        after_data.data_started_at = after_data.sending_started_at  # crashed past its DATA checkpoint
    window = closed_window(utc_now(), ZoneInfo("Europe/Moscow"))
    use_settings(
        monkeypatch,
        stack,
        tmp_path,
        database_url=url,
        app_timezone="Europe/Moscow",
        outreach_send_window=window,
        outreach_stale_sending_minutes=15,
    )

    report = send_task.fn(10)

    assert report["window_open"] is False
    assert report["recovered_unknown"] == 1 and report["recovered_requeued"] == 1
    with engine.connect() as conn:
        rows = conn.execute(
            select(OutreachMessage.status, OutreachMessage.attempts).order_by(OutreachMessage.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (MessageStatus.UNKNOWN, 1),
        (MessageStatus.QUEUED, 0),  # crashed before DATA: the server cannot have it, attempt given back
        (MessageStatus.QUEUED, 0),
    ]
    assert stack.sink.count == 0


def test_a_missing_limit_fails_the_slot_request_instead_of_not_limiting(prefect_api: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from tasks.limits import GlobalQuotaLimiter, free_email_slots, take_email_slots

    async def delete() -> None:
        async with get_client() as client:
            for name in (EMAIL_DAILY, YANDEX_SEARCH, YANDEX_SEARCH_HOURLY):
                try:
                    await client.delete_global_concurrency_limit_by_name(name)
                except ObjectNotFound:
                    pass

    asyncio.run(delete())
    try:
        assert free_email_slots() == 0
        with pytest.raises(Exception, match=EMAIL_DAILY):
            take_email_slots(3, timeout_seconds=1.0)
        limiter = GlobalQuotaLimiter([Quota(100, 1)])
        with pytest.raises(Exception, match=YANDEX_SEARCH):
            asyncio.run(limiter.acquire())
    finally:  # later tests on the same harness find the limits as bootstrap leaves them
        reset_limits(*limit_specs(Settings(_env_file=None)))  # type: ignore[call-arg]


def test_unused_slots_are_returned_and_an_early_stop_is_not_silent(
    prefect_api: str,
    sqlite_engine: tuple[str, Engine],
    stack: SandboxStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.outreach import outreach_flow
    from flows.params import OutreachParams
    from tasks.limits import free_email_slots

    url, engine = sqlite_engine
    add_queued(engine, 5)
    monkeypatch.setattr(outreach_tasks, "EMAIL_SLOT_TIMEOUT_SECONDS", 1.0)
    reset_limits(LimitSpec(EMAIL_DAILY, 4, 1e-4))  # four slots, practically never freed during the test
    # Every route down: the batch's four slots carry no message and go back at once; nothing is spent.
    starttls = {"smtp_gmail_security": "starttls", "smtp_yandex_security": "starttls"}  # the sink has none
    use_settings(monkeypatch, stack, tmp_path, database_url=url, **starttls)
    down = send_task.fn(10)
    assert down["sent"] == 0 and down["routes_down"] and down["due_left"] == 5
    assert free_email_slots() == 4 and stack.sink.count == 0
    # Routes back: four slots for five due messages; the run stops on the slot timeout and says so.
    use_settings(monkeypatch, stack, tmp_path, database_url=url)
    state = asyncio.run(outreach_flow(OutreachParams(draft_limit=0, send_limit=10), return_state=True))
    assert state.is_completed()
    assert state.message == (
        "stopped early: no email-daily slot within the timeout; 1 messages due left for a later run"
    )
    result = state.result()
    assert result["sent"] == 4 and stack.sink.count == 4

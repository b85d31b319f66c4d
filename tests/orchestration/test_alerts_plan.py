"""The alert automations and notification blocks as bootstrap plans them (no server), and alert mail through the
SMTP route to a loopback sink."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
import yaml
from pydantic import ValidationError

from infra.automations import (
    BOUNCE_RATE,
    CAP_EARLY,
    FAILED_OR_CRASHED,
    HEARTBEAT,
    HEARTBEAT_STOPPED,
    NIGHT_BACKLOG,
    alert_plan,
    crash_automation,
    notify_automations,
)
from infra.notifications import EMAIL_BLOCK_NAME, WEBHOOK_BLOCK_NAME, apprise_mail_url, notification_specs
from leadgen.alerts import EVENT_BOUNCE_RATE, EVENT_CAP_EARLY, EVENT_NIGHT_BACKLOG
from leadgen.errors import ConfigurationError
from leadgen.settings import Settings
from leadgen_sandbox.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parents[2]
HOOK = "https://hooks.example.net/services/T0/B0/s3cret-token"


def make_settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg,arg-type]


def test_no_alert_setting_means_no_block() -> None:
    assert notification_specs(make_settings()) == ()
    assert alert_plan(make_settings()).crash.name == HEARTBEAT_STOPPED


def test_blank_alert_settings_as_in_env_example_mean_none() -> None:
    assert notification_specs(make_settings(alert_webhook_url="", alert_email_to="")) == ()


def test_webhook_url_must_be_http() -> None:
    with pytest.raises(ValidationError, match="http:// or https://"):
        make_settings(alert_webhook_url="hooks.example.net/x")


def test_webhook_block_keeps_the_url_secret() -> None:
    (spec,) = notification_specs(make_settings(alert_webhook_url=HOOK))
    assert (spec.kind, spec.name, spec.block_type) == ("webhook", WEBHOOK_BLOCK_NAME, "custom-webhook")
    block = spec.block
    assert block.url == "{{webhook_url}}"  # type: ignore[attr-defined]
    assert block.secrets.get_secret_value() == {"webhook_url": HOOK}  # type: ignore[attr-defined]
    assert "s3cret" not in repr(block) and "s3cret" not in str(block.model_dump())
    args = block._build_request_args("the body", "the subject")  # type: ignore[attr-defined]
    assert args["url"] == HOOK
    assert args["json"]["subject"] == "the subject" and args["json"]["body"] == "the body"


def test_email_block_sends_through_the_smtp_route() -> None:
    """The core Apprise block mails through SMTP_YANDEX_* (AUTH included) to every ALERT_EMAIL_TO address."""
    with SmtpSink(auth=("alerts@example.ru", "p@ss/w:rd")) as sink:
        settings = make_settings(
            alert_email_to="ops@example.com, lead@example.com",
            smtp_yandex_host=sink.host,
            smtp_yandex_port=sink.port,
            smtp_yandex_security="none",
            smtp_yandex_username="alerts@example.ru",
            smtp_yandex_password="p@ss/w:rd",
            smtp_yandex_from="alerts@example.ru",
        )
        (spec,) = notification_specs(settings)
        assert (spec.kind, spec.name, spec.block_type) == ("email", EMAIL_BLOCK_NAME, "slack-webhook")
        spec.block.notify("night of 2026-12-07: 3 queries pending", "leadgen alert")  # type: ignore[attr-defined]
        messages = list(sink.messages)
    # Apprise sends one message per recipient.
    assert sorted(r for m in messages for r in m.rcpt_tos) == ["lead@example.com", "ops@example.com"]
    for message in messages:
        assert message.auth_user == "alerts@example.ru"
        parsed = message.parsed()
        assert (
            parsed["Subject"] == "leadgen alert"
            and parsed["From"].addresses[0].addr_spec == "alerts@example.ru"
        )
        assert "3 queries pending" in parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("security", "scheme", "mode"),
    [("starttls", "mailtos", "starttls"), ("ssl", "mailtos", "ssl"), ("none", "mailto", "insecure")],
)
def test_apprise_mail_url(security: str, scheme: str, mode: str) -> None:
    settings = make_settings(
        smtp_yandex_security=security,
        smtp_yandex_username="robot@example.ru",
        smtp_yandex_password="a/b@c",
        smtp_yandex_port=465,
    )
    url = apprise_mail_url(settings.smtp_route("yandex"), ["ops@example.com"]).get_secret_value()
    assert url.startswith(f"{scheme}://robot%40example.ru:a%2Fb%40c@smtp.yandex.ru:465/?")
    assert f"mode={mode}" in url and "to=ops%40example.com" in url and "from=robot%40example.ru" in url


def test_alert_mail_needs_a_sender() -> None:
    with pytest.raises(ConfigurationError, match="SMTP_YANDEX_FROM or SMTP_YANDEX_USERNAME"):
        notification_specs(make_settings(alert_email_to="ops@example.com"))


def test_crash_automation_watches_heartbeats() -> None:
    automation = crash_automation(make_settings(alert_heartbeat_window_seconds=240))
    trigger = automation.trigger
    assert trigger.after == {HEARTBEAT}  # type: ignore[union-attr]
    assert {HEARTBEAT, "prefect.flow-run.Completed", "prefect.flow-run.Crashed"} <= trigger.expect  # type: ignore[union-attr]
    assert "prefect.flow-run.Running" not in trigger.expect  # type: ignore[union-attr]
    assert trigger.posture == "Proactive" and trigger.within == timedelta(seconds=240)  # type: ignore[union-attr]
    assert trigger.for_each == {"prefect.resource.id"}  # type: ignore[union-attr]
    (action,) = automation.actions
    assert action.type == "change-flow-run-state" and action.state.value == "CRASHED"  # type: ignore[union-attr]
    assert action.force is False  # type: ignore[union-attr]  # never over a final state


def test_heartbeat_window_has_prefects_minimum() -> None:
    with pytest.raises(ValidationError):
        make_settings(alert_heartbeat_window_seconds=5)


def test_notify_automations_send_through_every_block() -> None:
    ids = [uuid4(), uuid4()]
    settings = make_settings(alert_bounce_rate_threshold=0.08, outreach_daily_cap=40)
    automations = {a.name: a for a in notify_automations(settings, ids)}
    assert set(automations) == {FAILED_OR_CRASHED, NIGHT_BACKLOG, BOUNCE_RATE, CAP_EARLY}
    for automation in automations.values():
        assert [a.block_document_id for a in automation.actions] == ids  # type: ignore[union-attr]
    failed = automations[FAILED_OR_CRASHED].trigger
    assert failed.expect == {
        "prefect.flow-run.Failed",
        "prefect.flow-run.TimedOut",
        "prefect.flow-run.Crashed",
    }  # type: ignore[union-attr]
    assert failed.posture == "Reactive" and failed.within == timedelta(0)  # type: ignore[union-attr]
    for name, event in (
        (NIGHT_BACKLOG, EVENT_NIGHT_BACKLOG),
        (BOUNCE_RATE, EVENT_BOUNCE_RATE),
        (CAP_EARLY, EVENT_CAP_EARLY),
    ):
        trigger = automations[name].trigger
        assert trigger.expect == {event} and trigger.within == timedelta(days=1)  # type: ignore[union-attr]
        assert trigger.for_each == {"prefect.resource.id"}  # type: ignore[union-attr]
    assert "8.0%" in automations[BOUNCE_RATE].description
    assert "(40)" in automations[CAP_EARLY].description


def _frequency(env: dict[str, object]) -> int:
    return int(str(env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"]))


def test_flow_runs_beat_often_enough_for_the_window() -> None:
    """Flow-run containers (prefect.yaml job env) and the worker send heartbeats; the default window spans 3+."""
    deploy = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    job_env = deploy["definitions"]["work_pool"]["job_variables"]["env"]
    compose = (ROOT / "docker-compose.yml").read_text()
    worker = re.search(r"PREFECT_FLOWS_HEARTBEAT_FREQUENCY: \"?(\d+)", compose)
    assert worker is not None
    frequency = _frequency(job_env)
    assert int(worker.group(1)) == frequency
    assert 30 <= frequency  # Prefect's minimum
    assert make_settings().alert_heartbeat_window_seconds >= 3 * frequency

"""Settings parsing: defaults, env names from the seed, lists, validation and secret masking."""

from __future__ import annotations

from datetime import time

import pytest
from pydantic import SecretStr, ValidationError

from leadgen.settings import SQLITE_DEFAULT_URL, Settings, parse_window


def make(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg,arg-type]


def test_defaults() -> None:
    s = make()
    assert s.database_url == SQLITE_DEFAULT_URL
    assert s.app_timezone == "Europe/Moscow"
    assert s.night_window_bounds == (time(0, 0), time(7, 59))
    assert s.outreach_daily_cap == 100
    assert s.is_sqlite


def test_reads_seed_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YANDEX_FOLDER_ID", "b1gfolder")
    monkeypatch.setenv("YANDEX_CLOUD_IAM_TOKEN", "t1.secret-token")
    monkeypatch.setenv("APP_TIMEZONE", "UTC")
    monkeypatch.setenv("NIGHT_WINDOW", "21:00-04:59")  # 00:00-07:59 MSK, the night-rate hours
    monkeypatch.setenv("ROUTING_FORCE_YANDEX_DOMAINS", "corp.ru, example.ru")
    monkeypatch.setenv("SMTP_GMAIL_PASSWORD", "app-password")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.yandex_folder_id == "b1gfolder"
    assert s.app_timezone == "UTC"
    assert s.routing_force_yandex_domains == ["corp.ru", "example.ru"]
    route = s.smtp_route("gmail")
    assert route.host == "smtp.gmail.com" and route.password is not None
    assert route.password.get_secret_value() == "app-password"


def test_reads_dotenv_file(tmp_path) -> None:
    env = tmp_path / ".env"
    env.write_text('DATABASE_URL=postgres://u:p@db:5432/leadgen\nPLANNING_TRIGGERS=["a", "b"]\n')
    s = Settings(_env_file=env)  # type: ignore[call-arg]
    assert s.database_url == "postgresql+psycopg://u:p@db:5432/leadgen"
    assert s.planning_triggers == ["a", "b"]


@pytest.mark.parametrize(
    "env",
    [
        {"app_timezone": "Mars/Olympus"},
        {"night_window": "late"},
        {"outreach_daily_cap": "-1"},
        {"yandex_groups_on_page": "101"},
        {"smtp_yandex_security": "tls-maybe"},
        {"yandex_cloud_sa_key_file": "/k.json", "yandex_cloud_sa_key_json": "{}"},
    ],
)
def test_rejects_bad_values(env: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        make(**env)


def test_secrets_are_masked_everywhere() -> None:
    secrets = {
        "yandex_cloud_iam_token": "t1.iam-token-value",
        "yandex_api_key": "AQVN-api-key-value",
        "yandex_cloud_sa_key_json": '{"private_key": "-----BEGIN PRIVATE KEY-----abc"}',
        "openai_api_key": "sk-openai-key-value",
        "smtp_yandex_password": "smtp-password-value",
        "google_service_account_json": '{"private_key": "google-pk"}',
    }
    s = make(**secrets)
    dumped = " ".join([repr(s), str(s), s.model_dump_json(), repr(s.smtp_route("yandex"))])
    for value in secrets.values():
        assert value not in dumped
    for name in secrets:
        assert isinstance(getattr(s, name), SecretStr)


def test_window_parser() -> None:
    assert parse_window("20:00-05:59") == (time(20, 0), time(5, 59))
    with pytest.raises(ValueError, match="00:00-07:59"):
        parse_window("20-05")


def test_env_example_documents_every_setting_and_parses() -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / ".env.example"
    lines = example.read_text(encoding="utf-8").splitlines()
    names = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#") and "=" in line}
    assert names == {name.upper() for name in Settings.model_fields}
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert lines[i - 1].startswith("#") or not lines[i - 1] or "=" in lines[i - 1], line
    Settings(_env_file=example)  # type: ignore[call-arg]  # the example itself is valid

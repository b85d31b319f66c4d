"""IMAP_* settings: one mailbox per route, read only when host, user and password are set; the password masked."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from leadgen.mailbox.sync import configured_routes
from leadgen.settings import Settings


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_defaults_are_the_providers_implicit_tls_inbox_and_nothing_is_configured() -> None:
    s = make()
    yandex, gmail = s.imap_route("yandex"), s.imap_route("gmail")
    assert (yandex.host, yandex.port, yandex.security, yandex.folder) == (
        "imap.yandex.ru",
        993,
        "ssl",
        "INBOX",
    )
    assert (gmail.host, gmail.port, gmail.security, gmail.folder) == ("imap.gmail.com", 993, "ssl", "INBOX")
    assert not yandex.configured and not gmail.configured
    assert configured_routes(s) == []
    assert (s.imap_timeout_seconds, s.imap_batch_size, s.imap_ca_file) == (30.0, 50, None)


@pytest.mark.parametrize(
    ("values", "configured"),
    [
        ({"imap_gmail_username": "sales@firm.ru", "imap_gmail_password": "app-pass"}, ["gmail"]),
        ({"imap_gmail_username": "sales@firm.ru"}, []),
        ({"imap_gmail_password": "app-pass"}, []),
        ({"imap_gmail_username": "sales@firm.ru", "imap_gmail_password": ""}, []),
        ({"imap_gmail_username": "sales@firm.ru", "imap_gmail_password": "p", "imap_gmail_host": ""}, []),
        (
            {
                "imap_yandex_username": "a@firm.ru",
                "imap_yandex_password": "p1",
                "imap_gmail_username": "b@firm.ru",
                "imap_gmail_password": "p2",
            },
            ["yandex", "gmail"],
        ),
        (  # one account behind both routes: read once
            {
                "imap_yandex_host": "imap.firm.ru",
                "imap_yandex_username": "Sales@firm.ru",
                "imap_yandex_password": "p1",
                "imap_gmail_host": "IMAP.firm.ru",
                "imap_gmail_username": "sales@firm.ru",
                "imap_gmail_password": "p1",
            },
            ["yandex"],
        ),
    ],
)
def test_a_mailbox_is_configured_with_host_user_and_password(
    values: dict[str, str], configured: list[str]
) -> None:
    assert [r.name for r in configured_routes(make(**values))] == configured


def test_environment_names_and_the_password_stays_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAP_YANDEX_HOST", "imap.firm.ru")
    monkeypatch.setenv("IMAP_YANDEX_PORT", "143")
    monkeypatch.setenv("IMAP_YANDEX_SECURITY", "starttls")
    monkeypatch.setenv("IMAP_YANDEX_USERNAME", "sales@firm.ru")
    monkeypatch.setenv("IMAP_YANDEX_PASSWORD", "imap-app-password-value")
    monkeypatch.setenv("IMAP_YANDEX_FOLDER", "Bounces")
    monkeypatch.setenv("IMAP_CA_FILE", "/etc/ssl/firm-ca.pem")
    s = make()
    route = s.imap_route("yandex")
    assert (route.host, route.port, route.security, route.username, route.folder) == (
        "imap.firm.ru",
        143,
        "starttls",
        "sales@firm.ru",
        "Bounces",
    )
    assert route.configured and route.mailbox == "yandex" and str(route.ca_file) == "/etc/ssl/firm-ca.pem"
    dumped = " ".join([repr(s), str(s), s.model_dump_json(), repr(route)])
    assert "imap-app-password-value" not in dumped


@pytest.mark.parametrize(
    "values", [{"imap_gmail_security": "tls"}, {"imap_yandex_port": 0}, {"imap_batch_size": 0}]
)
def test_bad_values_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        make(**values)

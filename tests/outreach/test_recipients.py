"""Recipient checks and the opt-out registry helpers."""

from __future__ import annotations

import pytest

from leadgen.db.models import OptOutKind
from leadgen.domains import domain_key
from leadgen.outreach.optout import (
    NOT_A_VALUE,
    add_opt_out,
    classify_value,
    email_hash,
    import_csv,
    opt_out_reason,
)
from leadgen.outreach.recipients import check_recipient, is_role_address
from leadgen.outreach.router import MxAnswer, StaticMxResolver

MX = StaticMxResolver({"clinic.ru": ["mx.yandex.net"], "nomail.ru": ["."], "empty.ru": []})


@pytest.mark.parametrize(
    ("email", "ok", "reason", "role"),
    [
        ("Director@Clinic.RU", True, None, False),
        ("info@clinic.ru", True, None, True),
        ("sales@clinic.ru", True, None, True),
        ("noreply@clinic.ru", False, "automated mailbox", False),
        ("not-an-email", False, "invalid address", False),
        ("a@@clinic.ru", False, "invalid address", False),
        ("boss@unknown-domain.ru", False, "no MX for unknown-domain.ru (nxdomain)", False),
        ("boss@empty.ru", False, "no MX", False),
        ("boss@nomail.ru", False, "null MX", False),
    ],
)
def test_check_recipient(email: str, ok: bool, reason: str | None, role: bool) -> None:
    check = check_recipient(email, mx_lookup=MX.resolve_mx)
    assert check.ok is ok and check.is_role is role
    assert (check.reason is None) if reason is None else (reason in (check.reason or ""))


def test_dns_failure_is_not_proof_of_absence() -> None:
    check = check_recipient("a@clinic.ru", mx_lookup=lambda d: MxAnswer((), error="dns_error: Timeout"))
    assert check.ok


def test_normalised_and_mx_recorded() -> None:
    check = check_recipient(" Director@Clinic.RU ", mx_lookup=MX.resolve_mx)
    assert check.email == "director@clinic.ru" and check.mx_hosts == ("mx.yandex.net",)


def test_role_addresses() -> None:
    assert is_role_address("info@x.ru") and is_role_address("zakaz@x.ru") and not is_role_address("ivan@x.ru")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ivan@Clinic.ru", (OptOutKind.EMAIL, "ivan@clinic.ru")),
        ("mailto:ivan@clinic.ru", (OptOutKind.EMAIL, "ivan@clinic.ru")),
        ("https://www.Clinic.ru/contacts", (OptOutKind.DOMAIN, "clinic.ru")),
        ("@clinic.ru", (OptOutKind.DOMAIN, "clinic.ru")),
        ("пример.рф", (OptOutKind.DOMAIN, "пример.рф")),
        ("XN--E1AFMKFD.XN--P1AI", (OptOutKind.DOMAIN, "пример.рф")),
        ("Info@xn--e1afmkfd.xn--p1ai", (OptOutKind.EMAIL, "info@пример.рф")),
        ("hello", None),
        ("", None),
    ],
)
def test_classify_value(raw: str, expected: object) -> None:
    assert classify_value(raw) == expected


def test_opt_out_by_email_domain_subdomain_and_hash(session) -> None:  # type: ignore[no-untyped-def]
    add_opt_out(session, "ivan@clinic.ru", kind=OptOutKind.EMAIL)
    add_opt_out(session, "blocked.ru", kind=OptOutKind.DOMAIN)
    add_opt_out(session, email_hash("Gone@Example.ru"), kind=OptOutKind.EMAIL_HASH)
    assert opt_out_reason(session, "IVAN@clinic.ru") == "opted out: email"
    assert opt_out_reason(session, "anna@clinic.ru") is None
    assert opt_out_reason(session, "a@blocked.ru") == "opted out: domain blocked.ru"
    assert opt_out_reason(session, "a@spb.blocked.ru") == "opted out: domain blocked.ru"
    assert opt_out_reason(session, "gone@example.ru") == "opted out: forgotten address"
    assert not add_opt_out(session, "IVAN@CLINIC.RU", kind=OptOutKind.EMAIL)  # LOWER(value) is unique


def test_import_csv_with_header_and_without(session) -> None:  # type: ignore[no-untyped-def]
    report = import_csv(
        session, "\ufeffemail,reason\nivan@clinic.ru,asked\nbad value,\nclinic2.ru,\nivan@clinic.ru,\n"
    )
    assert (report.added, report.already, len(report.errors)) == (2, 1, 1)
    assert (report.errors[0].item, report.errors[0].id, report.errors[0].reason) == ("row", 3, NOT_A_VALUE)
    report = import_csv(session, "a@b.ru\nc.ru\n")
    assert report.added == 2
    assert domain_key("WWW.C.RU.") == "c.ru"


def test_idn_domains_are_stored_in_unicode_form() -> None:
    """One canonical form (leadgen.domains): the Unicode spelling, as companies and contacts hold it."""
    check = check_recipient("Info@XN--80AGPKDLCBVKD5N.XN--P1AI")
    assert check.ok and check.email == "info@стоматология.рф"
    assert email_hash("info@стоматология.рф") == email_hash(check.email)

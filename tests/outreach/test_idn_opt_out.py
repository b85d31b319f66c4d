"""One spelling for domains (issue 19), on SQLite and Postgres: an opt-out typed in Unicode blocks a company stored
in punycode and the other way round, at drafting and again inside the send transaction; the migration to the one
form rewrites legacy punycode rows so SQL equality (exports, reports) holds as well."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from leadgen.db import migrate
from leadgen.db.engine import make_engine, write_scope
from leadgen.db.models import AddressBounce, MessageStatus, OptOut, OptOutKind, OutreachMessage
from leadgen.outreach.optout import add_opt_out, classify_value, opt_out_reason
from leadgen.settings import Settings
from tests.outreach.factories import add_company
from tests.outreach.test_outbox import make_settings
from tests.outreach.test_recipient_rules import draft, messages, queue

ROOT = Path(__file__).resolve().parents[2]
UNICODE = "окна-казань.рф"
PUNYCODE = "xn----7sbba8aocvgb7n.xn--p1ai"
SPELLINGS = {"unicode": UNICODE, "punycode": PUNYCODE}


def test_the_two_spellings_are_one_domain() -> None:
    from leadgen.domains import domain_key, to_ascii

    assert to_ascii(UNICODE) == PUNYCODE and domain_key(PUNYCODE) == UNICODE


@pytest.mark.parametrize("company_as", SPELLINGS)
@pytest.mark.parametrize("typed_as", SPELLINGS)
def test_a_domain_opt_out_blocks_the_company_whatever_the_spelling(
    engine: Engine, settings: Settings, typed_as: str, company_as: str
) -> None:
    st = make_settings(settings)
    company_domain = SPELLINGS[company_as]
    with write_scope(engine) as s:
        add_company(s, company_domain, emails=("okna.kazan@mail.ru",))  # free mail: only the company links it
        kind, value = classify_value(f"https://www.{SPELLINGS[typed_as].upper()}/kontakty") or (None, "")
        assert (kind, value) == (OptOutKind.DOMAIN, UNICODE)  # stored in the one form, however typed
        add_opt_out(s, value, kind=OptOutKind.DOMAIN)
    report = draft(engine, st)
    assert (report.drafted, report.skipped) == (0, 1)
    assert messages(engine)[company_domain].last_error == f"opted out: company domain {UNICODE}"


@pytest.mark.parametrize("company_as", SPELLINGS)
def test_an_opt_out_added_after_queueing_is_honoured_at_send_time(
    engine: Engine, settings: Settings, company_as: str
) -> None:
    from leadgen.outreach import RecordingMailer
    from tests.outreach.test_outbox import send
    from tests.outreach.test_recipient_rules import MX

    st = make_settings(settings)
    company_domain = SPELLINGS[company_as]
    with write_scope(engine) as s:
        add_company(s, company_domain, emails=("okna.kazan@mail.ru",))
    draft(engine, st)
    queue(engine, st)
    other = PUNYCODE if company_as == "unicode" else UNICODE
    with write_scope(engine) as s:  # a legacy registry row in the other spelling
        s.add(OptOut(kind=OptOutKind.DOMAIN, value=other, source="test"))
    mailer = RecordingMailer()
    result = send(engine, st, mailer_factory=lambda route: mailer, resolver=MX)
    assert (result.sent, result.skipped) == (0, 1) and mailer.sent == []
    assert messages(engine)[company_domain].status == MessageStatus.SKIPPED


@pytest.mark.parametrize("typed_as", SPELLINGS)
def test_an_email_opt_out_matches_both_spellings(engine: Engine, typed_as: str) -> None:
    with write_scope(engine) as s:
        kind, value = classify_value(f"Info@{SPELLINGS[typed_as].upper()}") or (None, "")
        assert (kind, value) == (OptOutKind.EMAIL, f"info@{UNICODE}")
        add_opt_out(s, value, kind=OptOutKind.EMAIL)
        assert opt_out_reason(s, f"info@{UNICODE}") == "opted out: email"
        assert opt_out_reason(s, f"INFO@{PUNYCODE}") == "opted out: email"
        assert opt_out_reason(s, f"sales@{UNICODE}") is None


def _revision_before_0719() -> str:
    """0719's down_revision (re-chained on merges), read from the migration itself."""
    text = (ROOT / "migrations" / "versions" / "0719_unicode_domains.py").read_text(encoding="utf-8")
    found = re.search(r'^down_revision: str \| None = "(\w+)"', text, re.M)
    assert found is not None
    return found.group(1)


def test_migration_0719_rewrites_legacy_punycode_rows(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    migrate.upgrade(
        engine, _revision_before_0719()
    )  # the models match the schema there (0719 adds no column)
    with write_scope(engine) as s:
        s.add_all(
            [
                OptOut(kind=OptOutKind.DOMAIN, value=PUNYCODE, source="legacy"),
                OptOut(kind=OptOutKind.EMAIL, value=f"info@{PUNYCODE}", source="legacy"),
                OptOut(kind=OptOutKind.EMAIL, value="boss@xn--80aswg.xn--p1ai", source="legacy"),
                OptOut(kind=OptOutKind.EMAIL, value="boss@сайт.рф", source="new"),  # both spellings listed
                OptOut(kind=OptOutKind.EMAIL_HASH, value="xn--" + "0" * 60, source="forget"),  # never touched
                OutreachMessage(campaign="default", to_email=f"info@{PUNYCODE}", status=MessageStatus.SENT),
                AddressBounce(address=f"gone@{PUNYCODE}", soft_count=1),
            ]
        )
    migrate.upgrade(engine, "head")
    with write_scope(engine) as s:
        values = sorted(s.scalars(select(OptOut.value)))
        assert values == sorted([UNICODE, f"info@{UNICODE}", "boss@сайт.рф", "xn--" + "0" * 60])
        assert s.scalar(select(OutreachMessage.to_email)) == f"info@{UNICODE}"
        assert s.scalar(select(AddressBounce.address)) == f"gone@{UNICODE}"
    engine.dispose()


def test_sql_equality_holds_after_the_migration(engine: Engine) -> None:
    """What exports compare in SQL (LOWER(opt-out value) = LOWER(canonical domain)) now agrees."""
    with write_scope(engine) as s:
        company = add_company(s, UNICODE)
        add_opt_out(s, classify_value(PUNYCODE)[1], kind=OptOutKind.DOMAIN)  # type: ignore[index]
        hit = s.scalar(select(OptOut.value).where(OptOut.value == company.canonical_domain))
    assert hit == UNICODE

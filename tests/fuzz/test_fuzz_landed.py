"""Hypothesis fuzzing of pure functions with arbitrary input: query generation, guardrails, LLM answer parsing,
the fallback composer, message building, Yandex Operation decoding, opt-out value parsing.

The property everywhere: any input gives a value or one of the module's typed exceptions — never another
exception. Existing property tests (tests/planning/test_queries.py, test_rows.py, tests/outreach/test_guardrails.py,
test_message.py, tests/yandex/test_client.py) use narrow alphabets or check specific invariants; these use the
full Unicode range, control characters, surrogates-free junk and hostile shapes.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from leadgen.domains import domain_key
from leadgen.errors import DraftRejected, LeadgenError, OperationFailed, YandexUnavailable
from leadgen.outreach.briefs import CompanyBrief, ContactBrief
from leadgen.outreach.composer import FallbackComposer, parse_draft
from leadgen.outreach.guardrails import check_draft
from leadgen.outreach.message import Unsubscribe, build_message, new_message_id
from leadgen.outreach.optout import classify_value, normalise_email
from leadgen.outreach.recipients import check_syntax
from leadgen.outreach.template import EmailTemplate
from leadgen.planning.queries import QueryOptions, generate_queries
from leadgen.planning.rows import NicheRow, RowError, validate_row
from leadgen.settings import Settings
from leadgen.yandex.types import Operation
from tests.outreach.factories import make_offer

FUZZ = hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OFFER = make_offer()
# Any text: full Unicode (no surrogates), with control characters, CR/LF, NUL, bidi and zero-width marks in the mix.
hostile = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
    st.text(alphabet=string.printable + "\x00\x85\u2028\u2029\u200b\u202e\ufeffабвгд@.:-/", max_size=300),
)
OPTIONS = QueryOptions.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


@FUZZ
@given(niche=hostile, city=hostile, country=hostile, lr=hostile, batch_tag=hostile)
def test_any_row_plans_or_is_rejected_with_a_reason(niche: str, city: str, country: str, lr: str, batch_tag: str) -> None:  # fmt: skip
    row = validate_row({"niche": niche, "city": city, "country": country, "lr": lr, "batch_tag": batch_tag}, row_number=2)  # fmt: skip
    if isinstance(row, RowError):
        assert row.reason
        return
    assert isinstance(row, NicheRow)
    queries = generate_queries(row, OPTIONS)
    assert 1 <= len(queries) <= 6
    for q in queries:
        assert len(q.query_text) <= 400 and len(q.query_text.split()) <= 40
        assert "\n" not in q.query_text and "\r" not in q.query_text


@FUZZ
@given(subject=hostile, body=hostile, extra=hostile)
def test_guardrails_judge_any_text(subject: str, body: str, extra: str) -> None:
    verdict = check_draft(EmailTemplate(subject=subject, body=body + extra), OFFER)
    assert verdict.ok == (not verdict.problems)
    assert verdict == check_draft(EmailTemplate(subject=subject, body=body + extra), OFFER)  # deterministic


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(hostile | st.sampled_from(["subject", "body"]), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(content=st.one_of(hostile, json_values.map(lambda v: json.dumps(v, ensure_ascii=False)), st.none()))
def test_llm_answer_is_a_draft_or_rejected(content: str | None) -> None:
    try:
        draft = parse_draft(content)
    except DraftRejected:
        return
    assert isinstance(draft.subject, str) and isinstance(draft.body, str)


@FUZZ
@given(name=hostile, domain=hostile, niche=hostile, city=hostile, snippet=hostile, site_text=hostile)
def test_fallback_composer_and_message_builder_on_hostile_company_data(name: str, domain: str, niche: str, city: str, snippet: str, site_text: str) -> None:  # fmt: skip
    company = CompanyBrief(company_id=1, name=name, domain=domain, niche=niche, city=city, snippet=snippet, site_text=site_text)  # fmt: skip
    composed = FallbackComposer().compose(company, ContactBrief(contact_id=1, email="info@example.ru"), OFFER)
    draft = composed.template
    try:
        message = build_message(
            subject=draft.subject,
            body=draft.body,
            to_email="info@example.ru",
            from_address="anna@dentaplan.example",
            offer=OFFER,
            message_id=new_message_id("dentaplan.example"),
            unsubscribe=Unsubscribe(mailto="unsubscribe@dentaplan.example"),
            date=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        )
    except (ValueError, TypeError, IndexError):  # the email package refused a header: the row fails, typed
        return
    rendered = message.as_bytes()
    headers = rendered.split(b"\n\n", 1)[0].decode("ascii", "replace")
    names = [line.split(":", 1)[0].lower() for line in headers.splitlines() if line and not line[0].isspace()]
    assert names.count("to") == 1 and "bcc" not in names and "cc" not in names
    assert names.count("subject") == 1


@FUZZ
@given(body=st.dictionaries(st.sampled_from(["id", "done", "response", "error", "createdAt", "x"]), json_values, max_size=6))  # fmt: skip
def test_any_operation_json_decodes_or_fails_typed(body: dict[str, object]) -> None:
    try:
        op = Operation.from_json(body)
    except YandexUnavailable:
        return
    try:
        data = op.result_bytes()
    except OperationFailed:
        return
    assert isinstance(data, bytes)


@FUZZ
@given(raw=st.dictionaries(st.sampled_from(["rawData", "x"]), st.one_of(hostile, st.binary(max_size=64).map(lambda b: b.hex())), max_size=2))  # fmt: skip
def test_any_raw_data_decodes_or_fails_typed(raw: dict[str, str]) -> None:
    op = Operation.from_json({"id": "sppx", "done": True, "response": raw})
    try:
        assert isinstance(op.result_bytes(), bytes)
    except OperationFailed:
        pass


@FUZZ
@given(value=hostile)
def test_opt_out_values_and_addresses_never_crash(value: str) -> None:
    kind = classify_value(value)
    assert kind is None or kind[1]
    assert isinstance(normalise_email(value), str)
    try:
        assert domain_key(value) is None or isinstance(domain_key(value), str)
    except LeadgenError:
        pass
    normalised, problem = check_syntax(value)
    assert (normalised is None) != (problem is None)


@pytest.mark.parametrize(
    "value", ["", "@", "a@", "@b.ru", "a@b", "..", "xn--", "xn--80ak6aa92e.com.", "\u202e@x.ru"]
)
def test_opt_out_edge_values(value: str) -> None:
    classify_value(value)
    normalise_email(value)

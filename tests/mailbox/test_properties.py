"""Property tests: whatever the bytes (random, or a fixture mutated), classify() returns a valid verdict."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgen.mailbox.classify import classify
from leadgen.mailbox.kinds import Classification, MailKind
from tests.mailbox.corpus import labels, raw

FIXTURES = sorted(labels())


def _valid(got: Classification) -> None:
    assert isinstance(got.kind, MailKind)
    summary = got.summary()
    json.dumps(summary)
    assert all(r == r.lower() and "@" in r for r in summary["recipients"])
    assert got.status is None or got.status[0] in "245"
    assert not got.reason.startswith("error:"), got.reason


@settings(max_examples=200)
@given(st.binary(max_size=4000))
def test_arbitrary_bytes(data: bytes) -> None:
    _valid(classify(data))


@settings(max_examples=150)
@given(
    st.sampled_from(FIXTURES),
    st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=40)), max_size=6),
    st.integers(min_value=0),
)
def test_mutated_fixtures(name: str, edits: list[tuple[int, bytes]], cut: int) -> None:
    data = bytearray(raw(name))
    for position, chunk in edits:
        at = position % (len(data) + 1)
        data[at : at + len(chunk)] = chunk
    data = data[: max(1, cut % (len(data) + 1))] if cut % 3 == 0 else data
    _valid(classify(bytes(data)))


@settings(max_examples=50)
@given(st.text(max_size=3000))
def test_arbitrary_text_with_headers(body: str) -> None:
    message = f"From: a@b.example\nSubject: {body[:80]}\nContent-Type: multipart/report; boundary=x\n\n{body}"
    _valid(classify(message.encode("utf-8", errors="surrogatepass")))


def test_huge_input_is_capped() -> None:
    big = raw("dsn_postfix_user_unknown.eml") + b"A" * 20_000_000
    got = classify(big)
    assert got.kind is MailKind.HARD_BOUNCE


@pytest.mark.parametrize(
    "body",
    [b"@" * 60_000, b" \n" * 100_000, b"@\n" * 100_000, b"<a@" * 20_000, b"\t" * 60_000 + b"a@b.example"],
    ids=["at-run", "blank-lines", "at-lines", "lt-at", "tabs"],
)
def test_pathological_bounce_text_finishes(body: bytes) -> None:
    """Regex backtracking stays linear: these took minutes before the address classes excluded '@'."""
    head = b"From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered Mail Returned to Sender\n\n"
    started = time.monotonic()
    got = classify(head + body)
    assert time.monotonic() - started < 30
    assert got.kind is MailKind.HARD_BOUNCE

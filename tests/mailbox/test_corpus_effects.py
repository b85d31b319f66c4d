"""Every message of the labelled corpus, classified by the real classifier, is applied without error and once
(SQLite and Postgres): long or odd headers, missing dates and Message-IDs all fit the inbound_messages row."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from leadgen.db.engine import write_scope
from leadgen.db.models import AddressBounce, InboundMessage, OptOut
from leadgen.mailbox.classify import classify
from leadgen.mailbox.effects import apply_classification
from leadgen.outreach.optout import normalise_email
from leadgen.settings import Settings
from tests.mailbox.corpus import MAIL_DIR, labels, raw

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def apply_all(engine: Engine, settings: Settings, hard: set[str] | None = None) -> Counter[str]:
    """Classify and apply every corpus message (UIDs in file order); `hard` collects hard-bounced addresses."""
    recorded: Counter[str] = Counter()
    for uid, name in enumerate(sorted(labels()), 1):
        verdict = classify(raw(name))
        if hard is not None and verdict.kind == "hard_bounce":
            hard.update(normalise_email(r) for r in verdict.recipients)
        with write_scope(engine) as session:
            outcome = apply_classification(
                session,
                verdict,
                mailbox="yandex",
                folder="INBOX",
                uidvalidity=77,
                uid=uid,
                settings=settings,
                now=NOW,
            )
        recorded[str(outcome.kind)] += outcome.recorded
    return recorded


@pytest.mark.skipif(
    not any(MAIL_DIR.glob("*.eml")), reason="the .eml corpus is not in this checkout (.gitignore has *.eml)"
)
def test_the_whole_corpus_applies_once(engine: Engine, settings: Settings) -> None:
    hard: set[str] = set()
    first = apply_all(engine, settings, hard)
    with write_scope(engine) as s:
        opt_outs = s.scalar(select(func.count()).select_from(OptOut))
        counters = s.execute(
            select(func.sum(AddressBounce.soft_count), func.sum(AddressBounce.hard_count))
        ).one()
    again = apply_all(engine, settings)

    expected = Counter(str(label["kind"]) for label in labels().values())
    assert sum(first.values()) == len(labels()) and sum(again.values()) == 0
    assert (
        first["hard_bounce"] >= expected["hard_bounce"] * 0.9
    )  # the classifier's own accuracy is tested apart
    with write_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(InboundMessage)) == len(labels())
        assert s.scalar(select(func.count()).select_from(OptOut)) == opt_outs  # nothing added by the re-read
        again_counters = s.execute(
            select(func.sum(AddressBounce.soft_count), func.sum(AddressBounce.hard_count))
        ).one()
        assert tuple(again_counters) == tuple(counters)
        listed = set(s.scalars(select(OptOut.value).where(OptOut.source == "bounce")))
    assert hard and hard <= listed  # every hard-bounced address is suppressed

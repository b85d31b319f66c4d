"""The classifier over the labelled corpus: bounce precision/recall, failed-recipient recall, kind accuracy."""

from __future__ import annotations

import pytest

from leadgen.mailbox.classify import classify
from tests.mailbox.corpus import BOUNCE_KINDS, MAIL_DIR, labels, raw

LABELS = labels()
TARGETS = {"bounce_precision": 0.95, "bounce_recall": 0.95, "recipient_recall": 0.95, "kind_accuracy": 0.85}


def test_every_fixture_is_labelled_and_every_label_has_a_file() -> None:
    files = {p.name for p in MAIL_DIR.glob("*.eml")}
    assert files == set(LABELS)
    assert len(files) >= 70
    kinds = {label["kind"] for label in LABELS.values()}
    assert kinds == {"hard_bounce", "soft_bounce", "auto_reply", "reply", "unsubscribe", "other"}


def measure() -> dict[str, float]:
    predicted_bounce = true_bounce = both_bounce = kind_right = 0
    wanted_recipients = found_recipients = 0
    for name, label in LABELS.items():
        got = classify(raw(name)).summary()
        is_bounce, was_bounce = got["kind"] in BOUNCE_KINDS, label["kind"] in BOUNCE_KINDS
        predicted_bounce += is_bounce
        true_bounce += was_bounce
        both_bounce += is_bounce and was_bounce
        kind_right += got["kind"] == label["kind"]
        if was_bounce:
            wanted = set(label["recipients"])  # type: ignore[arg-type]
            wanted_recipients += len(wanted)
            found_recipients += len(wanted & set(got["recipients"]))
    return {
        "bounce_precision": both_bounce / predicted_bounce,
        "bounce_recall": both_bounce / true_bounce,
        "recipient_recall": found_recipients / wanted_recipients,
        "kind_accuracy": kind_right / len(LABELS),
    }


def test_corpus_meets_the_targets() -> None:
    scores = measure()
    print({k: round(v, 3) for k, v in scores.items()})
    for metric, target in TARGETS.items():
        assert scores[metric] >= target, (metric, scores)


@pytest.mark.parametrize("name", sorted(LABELS))
def test_fixture(name: str) -> None:
    """Each fixture exactly: kind, failed recipients (order free), status and the original Message-ID."""
    label = LABELS[name]
    got = classify(raw(name))
    summary = got.summary()
    assert summary["kind"] == label["kind"], got.reason
    assert sorted(summary["recipients"]) == sorted(label["recipients"])  # type: ignore[arg-type]
    assert summary["status"] == label["status"]
    assert summary["message_id"] == label["message_id"]

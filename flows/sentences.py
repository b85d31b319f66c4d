"""What a run did, as sentences with numbers for the flow logs (the report dicts themselves go to artifacts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def num(value: Any) -> str:
    """`1980` → `1,980`; anything that is not a number as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def _n(report: Mapping[str, Any], key: str) -> str:
    return num(report.get(key) or 0)


def dedupe_line(report: Mapping[str, Any]) -> str:
    """One dedupe pass: `dedupe: 311 companies checked, 4 marked duplicate, 0 restored, 1 excluded as directory`."""
    return (
        f"dedupe: {_n(report, 'companies')} companies checked, {_n(report, 'marked_duplicate')} marked duplicate, "
        f"{_n(report, 'restored')} restored, {_n(report, 'cross_query_excluded')} excluded as directories"
    )


def draft_line(report: Mapping[str, Any]) -> str:
    """`drafts: 12 written (10 by the LLM, 2 fallback, 0 reused) for 13 companies; 1 skipped`."""
    if not report:
        return "drafts: none asked for"
    return (
        f"drafts: {_n(report, 'drafted')} written ({_n(report, 'llm')} by the LLM, {_n(report, 'fallback')} "
        f"fallback, {_n(report, 'reused')} reused) for {_n(report, 'considered')} companies; "
        f"{_n(report, 'skipped')} skipped"
    )


def queue_line(report: Mapping[str, Any]) -> str:
    """`queue: 12 of 13 drafts queued, 1 skipped (2 role addresses)`."""
    return (
        f"queue: {_n(report, 'queued')} of {_n(report, 'considered')} drafts queued, {_n(report, 'skipped')} "
        f"skipped ({_n(report, 'role_addresses')} role addresses)"
    )


def send_line(report: Mapping[str, Any], *, dry_run: bool = False) -> str:
    """`send: 10 sent, 1 retried, 0 failed, 1 skipped, 0 unknown; 42 sent today; stopped: daily cap reached`."""
    if not report:
        return "send: nothing to send (send limit 0)"
    if dry_run:
        return f"send (dry run): {num(len(report.get('files') or []))} .eml files written, {_n(report, 'skipped')} skipped"
    line = (
        f"send: {_n(report, 'sent')} sent, {_n(report, 'retried')} retried, {_n(report, 'failed')} failed, "
        f"{_n(report, 'skipped')} skipped, {_n(report, 'unknown')} unknown; {_n(report, 'sent_today')} sent today"
    )
    if report.get("stopped_reason"):
        line += f"; stopped: {report['stopped_reason']}"
    return line


FUNNEL_WORDS = (
    ("queries", "queries"),
    ("queries_pending", "pending"),
    ("operations", "operations"),
    ("results", "results"),
    ("companies", "companies"),
    ("contacts", "contacts"),
    ("drafted", "messages"),
    ("sent", "sent"),
)


def funnel_line(funnel: Mapping[str, Any]) -> str:
    """`batch spring: 4 queries, 0 pending, 4 operations, 16 results, 12 companies, ...`."""
    batch = funnel.get("batch_tag")
    head = f"batch {batch}" if batch else "all batches"
    return f"{head}: " + ", ".join(f"{_n(funnel, key)} {word}" for key, word in FUNNEL_WORDS)

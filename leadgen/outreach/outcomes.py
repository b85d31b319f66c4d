"""Outcomes of the outreach stage functions: draft, queue and send counts with their per-item errors."""

from __future__ import annotations

from dataclasses import dataclass, field

from leadgen.stage_report import ItemError


@dataclass(frozen=True, slots=True)
class DraftReport:
    """`draft_messages`: companies considered, drafts written (by LLM / fallback / reused), rows skipped."""

    considered: int = 0
    drafted: int = 0
    llm: int = 0
    fallback: int = 0
    reused: int = 0
    skipped: int = 0
    errors: tuple[ItemError, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class QueueReport:
    """`queue_messages`: drafts checked, queued, skipped (bad address, opt-out, no MX, guardrails)."""

    considered: int = 0
    queued: int = 0
    skipped: int = 0
    role_addresses: int = 0
    errors: tuple[ItemError, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class SendReport:
    """`send_queued`: what happened to the claimed rows, and why the run stopped."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    suppressed: int = 0
    unknown: int = 0  # lost after the content was sent: `unknown`, never resent (`leadgen outreach resolve`)
    recovered_unknown: int = 0  # found in `sending` past their DATA checkpoint after a crash
    recovered_requeued: int = 0  # found in `sending` before their checkpoint: requeued, attempt given back
    settled_sent: int = 0  # `unknown` rows whose copy was found in their route's sent folder
    settled_requeued: int = 0  # `unknown` rows absent from a reliable sent folder after the delay: requeued
    cap_reached: bool = False
    route_cap_reached: bool = False  # every route a message may take is at its OUTREACH_DAILY_CAP_<ROUTE>
    sent_today: int = 0
    window_open: bool = True
    next_window_start: str | None = None
    dry_run: bool = False
    files: tuple[str, ...] = field(default_factory=tuple)
    stopped_reason: str | None = None
    routes_down: tuple[str, ...] = field(default_factory=tuple)  # one line per route that could not be used
    due_left: int = 0  # queued rows still due when the run ended (a run that stopped early leaves work)
    errors: tuple[ItemError, ...] = field(default_factory=tuple)

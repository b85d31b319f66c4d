"""A dry send: the next due messages written as .eml files, the database unchanged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from leadgen.db import read_scope
from leadgen.db.models import OutreachMessage
from leadgen.outreach.claims import (
    row_opt_out_reason,
    row_third_party_reason,
)
from leadgen.outreach.delivery import outgoing_message
from leadgen.outreach.mailer import DryRunMailer
from leadgen.outreach.message import new_message_id
from leadgen.outreach.offer import OfferBrief
from leadgen.outreach.outbox import (
    OutboxItem,
)
from leadgen.outreach.outcomes import SendReport
from leadgen.outreach.router import MxResolver, RouteDecision, Router
from leadgen.outreach.send_run import item_error, unsubscribe_for
from leadgen.outreach.send_window import send_window_state
from leadgen.outreach.sendable import due_now
from leadgen.settings import Settings
from leadgen.stage_report import ItemError


def write_dry_run(
    engine: Engine,
    settings: Settings,
    offer: OfferBrief,
    *,
    limit: int,
    now: datetime,
    resolver: MxResolver | None,
    batch_tag: str | None = None,
) -> SendReport:
    """Write the next due messages (of the batch, if given) as .eml files; the database is not changed."""
    mailer = DryRunMailer(settings.outreach_dry_run_dir)
    router = Router.from_settings(settings, resolver=resolver)
    unsubscribe = unsubscribe_for(settings, offer)
    domain = offer.sender_email.rpartition("@")[2] or "leadgen.invalid"
    skipped = 0
    errors: list[ItemError] = []
    with read_scope(engine) as session:
        rows = session.scalars(
            select(OutreachMessage)
            .where(due_now(settings, now, batch_tag), OutreachMessage.to_email.is_not(None))
            .order_by(OutreachMessage.id)
            .limit(limit)
        ).all()
        for row in rows:
            reason = row_opt_out_reason(session, row) or row_third_party_reason(session, row)
            if reason:
                skipped += 1
                errors.append(item_error(reason, row.id, row.to_email, "skipped"))
                continue
            decision: RouteDecision = router.route(row.to_email or "")
            item = OutboxItem.from_row(row, message_id=row.message_id or new_message_id(domain))
            message = outgoing_message(settings, item, decision.route, offer, unsubscribe, now)
            message["X-Leadgen-Route"] = decision.route
            mailer.send(message)
    is_open, next_start = send_window_state(settings, now)  # reported as it is, not assumed open (issue 22)
    return SendReport(
        skipped=skipped, dry_run=True, files=tuple(str(p) for p in mailer.written), errors=tuple(errors),
        window_open=is_open, next_window_start=None if is_open else next_start.isoformat(),
    )  # fmt: skip

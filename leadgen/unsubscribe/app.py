"""The one-click unsubscribe service (RFC 8058) as a Starlette ASGI app: POST records, GET only asks."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from leadgen.db import write_scope
from leadgen.db.models import OptOutKind
from leadgen.outreach.optout import add_opt_out, normalise_email
from leadgen.unsubscribe.pages import SECURITY_HEADERS, confirm_page, done_page, error_page, invalid_page
from leadgen.unsubscribe.tokens import UnsubscribeRequest, UnsubscribeSigner, token_prefix

log = logging.getLogger("leadgen.unsubscribe")

# RFC 8058 section 3.1: the POST body carries exactly this key and value (form-urlencoded or multipart).
ONE_CLICK_KEY = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"
OPT_OUT_SOURCE = "one-click"
MAX_FORM_FIELDS = 8


def opt_out_reason(request: UnsubscribeRequest, /) -> str:
    """The reason stored with the opt-out: it names the message the link came from."""
    if request.message_id:
        return f"one-click unsubscribe from message <{request.message_id}>"
    return "one-click unsubscribe (link without a message)"


def record_opt_out(engine: Engine, request: UnsubscribeRequest, /) -> bool:
    """Add the address to the opt-out registry in one transaction; True when new, False when already listed."""
    with write_scope(engine) as session:
        return add_opt_out(
            session,
            normalise_email(request.email),
            kind=OptOutKind.EMAIL,
            reason=opt_out_reason(request),
            source=OPT_OUT_SOURCE,
        )


def _html(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


def create_app(engine: Engine, signer: UnsubscribeSigner) -> Starlette:
    """The ASGI app: `GET|POST /u/{token}` and `GET /healthz`; other methods get 405 from the router."""

    async def unsubscribe(request: Request) -> Response:
        token = request.path_params["token"]
        verified = signer.verify(token)
        if verified is None:
            log.info("unsubscribe link rejected: token %s does not verify", token_prefix(token))
            return _html(invalid_page(), 404)
        if request.method != "POST":
            # A GET (or HEAD) only asks: mail scanners and link previews fetch URLs without a person.
            return _html(confirm_page(verified.email))
        try:
            form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
        except Exception:  # malformed multipart or too many fields: Starlette raises several types
            form = None
        if form is None or form.get(ONE_CLICK_KEY) != ONE_CLICK_VALUE:
            log.info("one-click POST without List-Unsubscribe=One-Click for token %s", token_prefix(token))
            return _html(
                error_page(
                    "Запрос не содержит List-Unsubscribe=One-Click.",
                    "The request body must be List-Unsubscribe=One-Click.",
                ),
                400,
            )
        try:
            added = await run_in_threadpool(record_opt_out, engine, verified)
        except SQLAlchemyError as exc:
            log.error(
                "one-click unsubscribe not recorded (token %s): database error %s",
                token_prefix(token),
                type(exc).__name__,
            )
            return _html(
                error_page(
                    "Сервис временно недоступен, попробуйте позже.", "Temporarily unavailable, try later."
                ),
                503,
            )
        log.info(
            "one-click unsubscribe %s (token %s)",
            "recorded" if added else "already listed",
            token_prefix(token),
        )
        return _html(done_page(verified.email))

    async def healthz(_request: Request) -> Response:
        try:
            await run_in_threadpool(_ping, engine)
        except SQLAlchemyError:
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/u/{token}", unsubscribe, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))

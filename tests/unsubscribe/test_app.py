"""The one-click service over real HTTP (uvicorn + httpx), on SQLite and Postgres: POST records, GET only asks."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from html import escape

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from leadgen.db.engine import make_engine
from leadgen.db.models import OptOut, OptOutKind
from leadgen.outreach.message import Unsubscribe, build_message, new_message_id
from leadgen.outreach.optout import opt_out_reason
from leadgen.unsubscribe import UnsubscribeLinks, UnsubscribeSigner
from leadgen.unsubscribe.app import create_app
from tests.outreach.factories import make_offer
from tests.unsubscribe.conftest import serve

MESSAGE_ID = new_message_id("dentaplan.example")
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def opt_outs(engine: Engine) -> list[tuple[str, str, str | None, str | None]]:
    with Session(engine) as session:
        rows = session.scalars(select(OptOut).order_by(OptOut.id)).all()
        return [(r.value, r.kind.value, r.source, r.reason) for r in rows]


def token_url(
    service: str, signer: UnsubscribeSigner, address: str, message_id: str | None = MESSAGE_ID
) -> str:
    return UnsubscribeLinks(service, signer).url(address, message_id=message_id)


def test_one_click_post_records_the_opt_out_once(
    service: str, signer: UnsubscribeSigner, engine: Engine
) -> None:
    url = token_url(service, signer, "Info@Klinika-Ulybka.ru")
    with httpx.Client() as client:
        first = client.post(url, data=ONE_CLICK)
        assert first.status_code == 200
        assert opt_outs(engine) == [
            (
                "info@klinika-ulybka.ru",
                "email",
                "one-click",
                f"one-click unsubscribe from message {MESSAGE_ID}",
            )
        ]
        again = client.post(url, data=ONE_CLICK)
    assert again.status_code == 200
    assert len(opt_outs(engine)) == 1  # idempotent: the second POST changes nothing
    with Session(engine) as session:
        assert opt_out_reason(session, "info@klinika-ulybka.ru") == "opted out: email"
        assert opt_out_reason(session, "boss@klinika-ulybka.ru") is None


def test_an_idn_address_is_recorded_in_unicode(
    service: str, signer: UnsubscribeSigner, engine: Engine
) -> None:
    url = token_url(service, signer, "Info@Клиника-Улыбка.РФ")
    page = httpx.get(url)
    assert "info@клиника-улыбка.рф" in page.text
    assert httpx.post(url, data=ONE_CLICK).status_code == 200
    assert [row[0] for row in opt_outs(engine)] == [
        "info@клиника-улыбка.рф"
    ]  # the one form (leadgen.domains)
    with Session(engine) as session:
        assert opt_out_reason(session, "info@клиника-улыбка.рф") == "opted out: email"
        assert opt_out_reason(session, "info@xn----7sbbd6aamcddft6fsf.xn--p1ai") == "opted out: email"


def test_rfc_8058_multipart_post_is_accepted(service: str, signer: UnsubscribeSigner, engine: Engine) -> None:
    """The RFC's own example sends multipart/form-data (RFC 7578); form-urlencoded is the other allowed form."""
    boundary = "---FormBoundaryjWmhtjORrn"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        f"One-Click\r\n--{boundary}--\r\n"
    ).encode()
    response = httpx.post(
        token_url(service, signer, "director@stomatologia-plus.ru"),
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 200
    assert [row[0] for row in opt_outs(engine)] == ["director@stomatologia-plus.ru"]


def test_get_shows_a_confirmation_page_and_changes_nothing(
    service: str, signer: UnsubscribeSigner, engine: Engine
) -> None:
    address = "o'brien&co@clinic.ru"  # legal atext (RFC 5322) that must be escaped in HTML
    url = token_url(service, signer, address)
    with httpx.Client() as client:
        page = client.get(url)
        head = client.head(url)
    assert page.status_code == 200 and head.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert escape(address) in html and address not in html
    assert "Отписаться" in html and "Unsubscribe" in html
    assert re.search(r'<form method="post" action="">', html)
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in html
    assert "<script" not in html
    assert opt_outs(engine) == []  # a scanner's prefetch unsubscribes no one


def test_the_page_button_posts_the_same_form(service: str, signer: UnsubscribeSigner, engine: Engine) -> None:
    """Submit the page's form as a browser would: its hidden field, to its action (this URL)."""
    url = token_url(service, signer, "anna@clinic.ru")
    with httpx.Client() as client:
        html = client.get(url).text
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)">', html))
        response = client.post(url, data=fields)
    assert response.status_code == 200
    assert "anna@clinic.ru" in response.text
    assert [row[0] for row in opt_outs(engine)] == ["anna@clinic.ru"]


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda t: t[:-3], id="truncated"),
        pytest.param(lambda t: ("e" if t[3] != "e" else "f").join([t[:3], t[4:]]), id="payload-char"),
        pytest.param(lambda t: t.split(".")[0], id="unsigned"),
        pytest.param(lambda t: "eyJ4Ijoi", id="garbage"),
    ],
)
def test_tampered_token_gets_404_and_changes_nothing(
    service: str, signer: UnsubscribeSigner, engine: Engine, mutate
) -> None:  # type: ignore[no-untyped-def]
    token = signer.sign("anna@clinic.ru", message_id=MESSAGE_ID)
    url = f"{service}/u/{mutate(token)}"
    with httpx.Client() as client:
        assert client.post(url, data=ONE_CLICK).status_code == 404
        assert client.get(url).status_code == 404
    assert opt_outs(engine) == []


def test_foreign_secret_gets_404(service: str, engine: Engine) -> None:
    foreign = UnsubscribeSigner("a-different-deployment-secret-0123456789")
    response = httpx.post(token_url(service, foreign, "anna@clinic.ru"), data=ONE_CLICK)
    assert response.status_code == 404
    assert opt_outs(engine) == []


def test_message_a_token_cannot_unsubscribe_address_b(
    service: str, signer: UnsubscribeSigner, engine: Engine
) -> None:
    token_a = signer.sign("anna@clinic.ru", message_id=MESSAGE_ID)
    token_b = signer.sign("victim@other-clinic.ru", message_id=new_message_id("x.example"))
    forged = f"{token_b.split('.')[0]}.{token_a.split('.')[1]}"
    with httpx.Client() as client:
        assert client.post(f"{service}/u/{forged}", data=ONE_CLICK).status_code == 404
        assert client.post(f"{service}/u/{token_a}", data=ONE_CLICK).status_code == 200
    assert [row[0] for row in opt_outs(engine)] == ["anna@clinic.ru"]


@pytest.mark.parametrize(
    ("data", "content"),
    [
        pytest.param(None, None, id="empty-body"),
        pytest.param({"List-Unsubscribe": "Yes"}, None, id="wrong-value"),
        pytest.param({"unsubscribe": "One-Click"}, None, id="wrong-key"),
        pytest.param(None, b'{"List-Unsubscribe": "One-Click"}', id="json"),
    ],
)
def test_post_without_the_one_click_body_is_refused(
    service: str,
    signer: UnsubscribeSigner,
    engine: Engine,
    data: dict[str, str] | None,
    content: bytes | None,
) -> None:
    response = httpx.post(token_url(service, signer, "anna@clinic.ru"), data=data, content=content)
    assert response.status_code == 400
    assert opt_outs(engine) == []


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_get_405(service: str, signer: UnsubscribeSigner, engine: Engine, method: str) -> None:
    response = httpx.request(method, token_url(service, signer, "anna@clinic.ru"), data=ONE_CLICK)
    assert response.status_code == 405
    assert opt_outs(engine) == []


def test_healthz_and_unknown_paths(service: str) -> None:
    with httpx.Client() as client:
        health = client.get(f"{service}/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert client.post(f"{service}/healthz").status_code == 405
        assert client.get(f"{service}/u/").status_code == 404
        assert client.get(f"{service}/").status_code == 404


def test_database_down_answers_503_and_healthz_says_so(signer: UnsubscribeSigner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    broken = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'leadgen.db'}")
    with serve(create_app(broken, signer)) as base, httpx.Client() as client:
        assert client.get(f"{base}/healthz").status_code == 503
        response = client.post(token_url(base, signer, "anna@clinic.ru"), data=ONE_CLICK)
    assert response.status_code == 503  # the provider may retry; nothing was claimed to be done
    broken.dispose()


def test_a_built_message_unsubscribes_through_its_own_headers(
    links: UnsubscribeLinks, engine: Engine
) -> None:
    """Build a message, parse it back as a mail client would, and POST to its List-Unsubscribe https URI."""
    message = build_message(
        subject="Запись пациентов онлайн",
        body="Здравствуйте!\n\nКоротко о сервисе.",
        to_email="reception@zubnoy-mir.ru",
        from_address="anna@dentaplan.example",
        offer=make_offer(),
        message_id=MESSAGE_ID,
        unsubscribe=Unsubscribe(mailto="unsubscribe@dentaplan.example", links=links),
        date=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
    )
    parsed = email.message_from_bytes(message.as_bytes(policy=email.policy.SMTP), policy=email.policy.default)
    uris = re.findall(r"<([^>]+)>", str(parsed["List-Unsubscribe"]))
    assert uris[1] == "mailto:unsubscribe@dentaplan.example?subject=unsubscribe"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # RFC 8058 section 3.2: POST the List-Unsubscribe-Post value as the body to the http(s) URI.
    key, value = str(parsed["List-Unsubscribe-Post"]).split("=", 1)
    assert httpx.post(uris[0], data={key: value}).status_code == 200
    assert opt_outs(engine) == [
        (
            "reception@zubnoy-mir.ru",
            OptOutKind.EMAIL.value,
            "one-click",
            f"one-click unsubscribe from message {MESSAGE_ID}",
        )
    ]

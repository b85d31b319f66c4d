"""The HTML the one-click service shows people (Russian and English); every shown value is escaped."""

from __future__ import annotations

from html import escape

# No scripts, no external resources; the form may post only to this service (and `action=""` is this URL).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.5}"
    "button{font-size:1rem;padding:.6rem 1.2rem;cursor:pointer}p.en{color:#555}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def confirm_page(email: str, /) -> str:
    """GET /u/<token>: what will happen and a button that sends the RFC 8058 one-click POST to this URL."""
    shown = escape(email)
    return _page(
        "Отписка / Unsubscribe",
        f"<h1>Отписаться от писем?</h1>\n"
        f"<p>Мы больше не будем писать на адрес <strong>{shown}</strong>.</p>\n"
        f'<p class="en" lang="en">Unsubscribe? We will no longer write to <strong>{shown}</strong>.</p>\n'
        '<form method="post" action="">\n'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">\n'
        '<button type="submit">Отписаться / Unsubscribe</button>\n</form>',
    )


def done_page(email: str, /) -> str:
    """After the POST (the same answer whether the address was new or already listed)."""
    shown = escape(email)
    return _page(
        "Вы отписаны / Unsubscribed",
        f"<h1>Готово</h1>\n<p>Адрес <strong>{shown}</strong> больше не получит от нас писем.</p>\n"
        f'<p class="en" lang="en">Done: <strong>{shown}</strong> will not receive our mail again.</p>',
    )


def invalid_page() -> str:
    """A token that does not verify: nothing is shown about it and nothing changes."""
    return _page(
        "Ссылка не распознана / Unknown link",
        "<h1>Ссылка не распознана</h1>\n<p>Ссылка повреждена или устарела. Чтобы отписаться, ответьте на письмо "
        "словом «отписаться».</p>\n"
        '<p class="en" lang="en">This link is damaged or unknown. To unsubscribe, reply to the message with '
        "the word “unsubscribe”.</p>",
    )


def error_page(message_ru: str, message_en: str, /) -> str:
    """A short failure page (bad request body, database unavailable)."""
    return _page(
        "Ошибка / Error",
        f'<h1>Ошибка</h1>\n<p>{escape(message_ru)}</p>\n<p class="en" lang="en">{escape(message_en)}</p>',
    )

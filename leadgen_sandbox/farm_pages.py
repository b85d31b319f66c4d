"""HTML rendering of the site farm's generated sites: one `render(site, path)` per request, cheap and deterministic."""

from __future__ import annotations

import json
from functools import lru_cache
from html import escape

from leadgen.contacts.emails import encode_cfemail
from leadgen_sandbox.farm_sites import Site, truth_json

TRUTH_PATH = "/__farm__/truth.json"
FILLER = (
    "<p>Мы работаем на рынке более 15 лет и предлагаем полный спектр услуг для бизнеса и частных клиентов. "
    "Доставка по всей России, гарантия качества, индивидуальный подход. Стоимость от 1 500 руб.</p>\n"
)
JUNK = """
<div class="requisites"><h4>Реквизиты</h4>
<p>ООО «{name}» ИНН 7701234567 КПП 770101001 ОГРН 1027700132195</p>
<p>р/с 40702810938000012345 в ПАО Сбербанк, к/с 30101810400000000225, БИК 044525225</p>
<p>Юридический адрес: 123456, г. {city}, ул. Ленина, д. 10, офис 5. Дата регистрации 12.03.2012.</p></div>
<form class="callback"><input type="email" name="email" placeholder="your@email.com">
<input type="text" placeholder="name@domain.ru"><textarea placeholder="Ваш вопрос">Пишите на example@example.com</textarea>
<button>Отправить</button></form>
<script>Sentry.init({{dsn: "https://3f1e2d3c4b5a69788796a5b4c3d2e1f0@o123456.ingest.sentry.io/42"}});
var retina = "logo@2x.png";</script>
"""


CATEGORIES = ("Каталог", "Услуги", "Доставка", "Оплата", "Гарантия", "Акции", "Новости", "Статьи", "Отзывы",
              "Вакансии", "Партнёрам", "Дилерам", "Сертификаты", "Портфолио", "Вопросы и ответы")  # fmt: skip
INLINE_CSS = "<style>" + "".join(
    f".b{i}{{margin:{i % 7}px;padding:{i % 5}px {i % 3}px;color:#{i * 4099 % 0xFFFFFF:06x};display:flex}}" for i in range(180)
) + "</style>"  # fmt: skip
INLINE_JS = (
    "<script>(function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push(arguments)};"
    "m[i].l=1*new Date();k=e.createElement(t),a=e.getElementsByTagName(t)[0],k.async=1,k.src=r,"
    "a.parentNode.insertBefore(k,a)})(window,document,'script','https://mc.yandex.ru/metrika/tag.js','ym');"
    "ym(12345678,'init',{clickmap:true,trackLinks:true,accurateTrackBounce:true,webvisor:true});"
    + "var catalog = " + json.dumps([{"id": i, "name": f"Товар {i}", "price": i * 137 % 9000 + 500} for i in range(120)], ensure_ascii=False)
    + ";</script>"
)  # fmt: skip


@lru_cache(maxsize=2048)
def _chrome(site: Site) -> tuple[str, str]:
    """Realistic bulk shared by every page of a site: a mega menu, a product grid, a sitemap footer (~40 KB)."""
    menu = "".join(
        f'<li class="menu__item"><a href="/{i}-razdel/">{c}</a><ul class="submenu">'
        + "".join(f'<li><a href="/{i}-razdel/{j}/">{c} — подраздел {j}</a></li>' for j in range(1, 6))
        + "</ul></li>"
        for i, c in enumerate(CATEGORIES)
    )
    cards = "".join(
        f'<div class="card b{i}"><a href="/catalog/item-{i}/"><img src="/upload/iblock/{i:03d}/item@2x.jpg" '
        f'alt="Товар {i}" loading="lazy"></a><div class="card__title">{escape(site.name)}: изделие №{i}</div>'
        f'<div class="card__price">{(i * 137) % 9000 + 500} ₽</div><button class="btn">В корзину</button></div>'
        for i in range(24)
    )
    sitemap = "".join(f'<a href="/{i}-razdel/">{c}</a> ' for i, c in enumerate(CATEGORIES))
    return (
        f'<ul class="menu">{menu}</ul>',
        f'<div class="grid">{cards}</div><div class="sitemap">{sitemap}</div>',
    )


def _page(
    site: Site, title: str, main: str, *, footer: str = "", charset: str = "utf-8", head: str = ""
) -> str:
    nav_contacts = (
        '<a href="/o-nas/">О нас</a> <a href="{p}">Как с нами связаться</a>'
        if site.kind == "deep_link"
        else '<a href="/about">О компании</a> <a href="{p}">Контакты</a>'
    ).format(p=escape(site.contact_path))
    phone = ""
    if site.phones and site.kind not in ("js_only", "no_contacts"):
        phone = f'<div class="top-phone">Звоните: {escape(site.phones[0][0])}</div>'
    menu, grid = _chrome(site)
    return (
        f'<!DOCTYPE html>\n<html lang="ru"><head><meta charset="{charset}"><title>{escape(title)} — '
        f"{escape(site.name)}</title>{INLINE_CSS}{head}</head>\n<body><header><nav>"
        f'<a href="/">Главная</a> <a href="/uslugi/">Услуги</a> {nav_contacts}</nav>{menu}{phone}</header>\n'
        f"<main>{main}{grid}</main>\n<footer>{footer}<p>© 2012–2024 ООО «{escape(site.name)}», {escape(site.city)}</p>"
        f"</footer>{INLINE_JS}</body></html>\n"
    )


def _footer(site: Site) -> str:
    if site.kind in ("footer", "studio", "deep_link", "redirect_chain", "huge"):
        links = " ".join(f'<a href="mailto:{e}">{escape(e)}</a>' for e in site.emails)
        tels = ", ".join(f'<a href="tel:{e164}">{escape(shown)}</a>' for shown, e164 in site.phones)
        out = f'<div class="contacts">E-mail: {links}<br>Тел.: {tels}</div>'
    elif site.kind == "robots_contacts" and site.home_only:
        out = f'<div class="contacts">Почта: <a href="mailto:{site.home_only[0]}">{escape(site.home_only[0])}</a></div>'
    else:
        out = ""
    if site.studio_email:
        out += (
            '<div class="dev">Разработка сайта — веб-студия «Сайтмейкер», '
            f'<a href="mailto:{site.studio_email}">{escape(site.studio_email)}</a></div>'
        )
    return out


def _contacts_table(site: Site) -> str:
    emails, phones = site.emails, site.phones
    rows = "".join(
        f"<tr><td>{label}</td><td>{escape(phones[i % len(phones)][0]) if phones else ''}</td>"
        f"<td>{escape(emails[i]) if i < len(emails) else ''}</td></tr>"
        for i, label in enumerate(
            ("Отдел продаж", "Бухгалтерия", "Руководство")[: max(len(emails), len(phones))]
        )
    )
    extra = "".join(f"<p>Доп. телефон: {escape(p[0])}</p>" for p in phones[3:])
    extra += "".join(f"<p>{escape(e)}</p>" for e in emails[3:])
    return (
        f"<h1>Контакты</h1><table><tr><th>Отдел</th><th>Телефон</th><th>E-mail</th></tr>{rows}</table>{extra}"
    )


def _contacts_jsonld_head(site: Site) -> str:
    data = {
        "@context": "https://schema.org", "@type": "LocalBusiness", "name": site.name,
        "email": list(site.emails), "telephone": [shown for shown, _ in site.phones],
        "address": {"@type": "PostalAddress", "addressLocality": site.city},
    }  # fmt: skip
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'


def _contacts_obfuscated(site: Site) -> str:
    styles = ("{l} [at] {d} [dot] {t}", "{l}(at){d}.{t}", "{l} собака {d}.{t}", "{l} @ {d}.{t}")
    lines = []
    for i, e in enumerate(site.emails):
        local, domain = e.split("@")
        base, _, tld = domain.rpartition(".")
        lines.append(styles[i % len(styles)].format(l=local, d=base, t=tld))
    mails = "".join(f"<p>Пишите: {escape(line)}</p>" for line in lines)
    tels = "".join(f"<p>Тел. {escape(s)}</p>" for s, _ in site.phones)
    return f"<h1>Контакты</h1>{mails}{tels}"


def _contacts_cfemail(site: Site) -> str:
    parts = []
    for i, e in enumerate(site.emails):
        if i % 2:
            parts.append(
                f'<p><a href="/cdn-cgi/l/email-protection#{encode_cfemail(e, key=0x20 + i)}">[email&#160;protected]</a></p>'
            )
        else:
            parts.append(
                f'<p>E-mail: <span class="__cf_email__" data-cfemail="{encode_cfemail(e)}">[email&#160;protected]</span></p>'
            )
    tels = "".join(f'<p><a href="tel:{e164}">{escape(s)}</a></p>' for s, e164 in site.phones)
    return "<h1>Контакты</h1>" + "".join(parts) + tels


def _contacts_main(site: Site) -> tuple[str, str]:
    """The body of the contacts page and extra <head> content, by layout kind."""
    kind, emails, phones = site.kind, site.emails, site.phones
    if kind == "table":
        return _contacts_table(site), ""
    if kind == "jsonld":
        return f"<h1>Контакты</h1><p>Мы находимся в городе {escape(site.city)}.</p>", _contacts_jsonld_head(
            site
        )
    if kind == "microdata":
        props = "".join(f'<p>Почта: <span itemprop="email">{escape(e)}</span></p>' for e in emails)
        props += "".join(f'<p>Телефон: <span itemprop="telephone">{escape(s)}</span></p>' for s, _ in phones)
        return (
            f'<div itemscope itemtype="https://schema.org/Organization"><h1 itemprop="name">{escape(site.name)}</h1>{props}</div>',
            "",
        )
    if kind == "obfuscated":
        return _contacts_obfuscated(site), ""
    if kind == "cfemail":
        return _contacts_cfemail(site), ""
    if kind == "broken":
        mails = "".join(f"<li><b>почта: {escape(e)}<li>" for e in emails)
        tels = "".join(f"<p>телефон {escape(s)}<td>" for s, _ in phones)
        return f"<h1>Контакты<div><ul>{mails}</ul></div></div></span>{tels}<p <b>", ""
    if kind == "js_only":
        found = json.dumps({"emails": list(emails), "phones": [s for s, _ in phones]}, ensure_ascii=False)
        return f'<div id="app">Загрузка…</div><script>window.__CONTACTS__ = {found}; render();</script>', ""
    if kind == "no_contacts":
        return "<h1>Контакты</h1><p>Оставьте заявку через форму, и мы перезвоним.</p>", ""
    # footer-like kinds, cp1251, robots_contacts, redirect_chain: links and text
    mails = "".join(f'<p>E-mail: <a href="mailto:{e}?subject=Заявка">{escape(e)}</a></p>' for e in emails)
    tels = "".join(f"<p>Телефон: {escape(s)}</p>" for s, _ in phones)
    return f"<h1>Контакты</h1><p>Адрес: г. {escape(site.city)}, ул. Ленина, 10</p>{mails}{tels}", ""


def _html(site: Site, text: str, *, status: int = 200) -> tuple[int, bytes, str]:
    if site.kind == "cp1251":
        body = text.replace('<meta charset="utf-8">', '<meta charset="windows-1251">').encode(
            "cp1251", "replace"
        )
        return status, body, "text/html"  # declared in <meta> only
    return status, text.encode("utf-8"), "text/html; charset=utf-8"


def render(
    site: Site, path: str, *, seed: int = 1, huge_bytes: int = 3 * 1024 * 1024
) -> tuple[int, bytes, str, dict[str, str], int]:
    """(status, body, content type, extra headers, padding bytes sent after the body) for `path` on `site`."""
    path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    kind = site.kind
    if path == TRUTH_PATH:
        return 200, truth_json(site.domain, seed=seed), "application/json", {}, 0
    if path == "/robots.txt":
        if kind == "robots_all":
            return 200, b"User-agent: *\nDisallow: /\n", "text/plain", {}, 0
        if kind == "robots_contacts":
            rules = "".join(
                f"Disallow: {p}\n"
                for p in ("/contacts", "/kontakty", "/contact", "/company/", "/svyaz", "/%D0%BA")
            )
            return 200, f"User-agent: *\n{rules}".encode(), "text/plain", {}, 0
        if len(site.domain) % 3 == 0:
            return 404, b"not found", "text/plain", {}, 0
        return 200, b"User-agent: *\nDisallow: /admin/\nDisallow: /search\n", "text/plain", {}, 0
    if kind == "error404":
        return 404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html", {}, 0
    if kind == "error500":
        return 500, b"<html><body><h1>500 Internal Server Error</h1></body></html>", "text/html", {}, 0
    if kind == "redirect_loop" and path in ("/", "/index.php"):
        return 302, b"", "text/html", {"Location": "/index.php" if path == "/" else "/"}, 0
    if kind == "redirect_chain" and path in ("/", "/index.php"):
        return 301, b"", "text/html", {"Location": "/index.php" if path == "/" else "/ru/"}, 0
    if kind == "non_html":
        return 200, b"%PDF-1.4\n% generated\n", "application/pdf", {}, 0
    home_paths = ("/", "/ru/") if kind == "redirect_chain" else ("/",)
    if path in home_paths:
        main = f"<h1>{escape(site.name)}</h1>" + FILLER * 3
        if kind == "deep_link":
            main += f'<p><a href="{site.contact_path}">Связаться с нами</a></p>'
        text = _page(
            site, "Главная", main, footer=_footer(site) + JUNK.format(name=escape(site.name), city=site.city)
        )
        status, body, ctype = _html(site, text)
        return status, body, ctype, {}, huge_bytes if kind == "huge" else 0
    if path.rstrip("/") == site.contact_path.rstrip("/") or (kind != "deep_link" and path == "/контакты"):
        if path == "/контакты" and site.contact_path != "/контакты":
            return 404, b"<h1>404</h1>", "text/html", {}, 0
        main, head = _contacts_main(site)
        return (*_html(site, _page(site, "Контакты", main, footer=_footer(site), head=head)), {}, 0)
    if path in ("/about", "/about/", "/o-nas/", "/uslugi/"):
        main = "<h1>О компании</h1>" + FILLER * 2 + JUNK.format(name=escape(site.name), city=site.city)
        return (*_html(site, _page(site, "О компании", main, footer=_footer(site))), {}, 0)
    return 404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html; charset=utf-8", {}, 0

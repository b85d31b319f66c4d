"""Domain data kept apart from code: lists of sites that are never a company lead."""

from __future__ import annotations

# Sites excluded inside every search query with the `~~ site:` style minus operators of the query generator.
# The biggest non-company hosts of Russian business results: directories, maps, marketplaces, classifieds,
# job boards, social networks and video. Kept short on purpose (queries are capped at 400 characters);
# the full non-company filter applied to results lives next to it.
MINUS_DOMAINS: frozenset[str] = frozenset(
    {
        "2gis.ru",
        "avito.ru",
        "hh.ru",
        "vk.com",
        "youtube.com",
        "zoon.ru",
        "yell.ru",
        "ozon.ru",
        "wildberries.ru",
        "market.yandex.ru",
        "pulscen.ru",
        "flamp.ru",
        "otzovik.com",
        "irecommend.ru",
        "tiu.ru",
        "rusprofile.ru",
        "list-org.com",
        "wikipedia.org",
    }
)

# The non-company filter applied to SERP results (leadgen.serp.filter): sites that show up in Russian business
# results but are never the company's own site. One frozenset per category; the category becomes the
# `skip_reason` of a filtered result (`directory:maps`, ...). A listed domain also matches its subdomains
# (`spb.hh.ru`, `m.vk.com`). Extend it without code changes through DIRECTORY_DOMAINS_EXTRA.
DIRECTORY_DOMAINS_BY_CATEGORY: dict[str, frozenset[str]] = {
    # Business directories and company catalogues ("справочники", "каталоги организаций").
    "directory": frozenset(
        {
            "zoon.ru",
            "yell.ru",
            "flamp.ru",
            "spravker.ru",
            "orgpage.ru",
            "spr.ru",
            "firmika.ru",
            "cataloxy.ru",
            "bizly.ru",
            "kompass.com",
            "yellowpages.ru",
            "jsprav.ru",
            "spravka.ru",
            "gdeetotdom.ru",
            "mestam.info",
            "russia-in.ru",
            "b2b-center.ru",
            "rosfirm.ru",
            "info-org.ru",
        }
    ),
    # Company registries and due-diligence services (ЕГРЮЛ mirrors).
    "registry": frozenset(
        {
            "rusprofile.ru",
            "list-org.com",
            "sbis.ru",
            "checko.ru",
            "zachestnyibiznes.ru",
            "audit-it.ru",
            "kontragent.info",
            "spark-interfax.ru",
            "vbankcenter.ru",
            "kartoteka.ru",
            "focus.kontur.ru",
            "egrul.nalog.ru",
            "datanewton.ru",
            "synapsenet.ru",
            "companium.ru",
            "ogrn.online",
            "e-ecolog.ru",
        }
    ),
    # Maps and navigation (organisation cards).
    "maps": frozenset(
        {
            "2gis.ru",
            "2gis.com",
            "yandex.ru",
            "yandex.com",
            "yandex.by",
            "yandex.kz",
            "ya.ru",
            "maps.google.com",
            "maps.google.ru",
            "google.com",
            "google.ru",
            "goo.gl",
            "maps.me",
            "wikimapia.org",
            "openstreetmap.org",
            "2gis.kz",
            "go.mail.ru",
        }
    ),
    # Classifieds, service aggregators and lead marketplaces (мастера, услуги, тендеры).
    "aggregator": frozenset(
        {
            "avito.ru",
            "youla.ru",
            "kufar.by",
            "olx.kz",
            "flagma.ru",
            "profi.ru",
            "uslugi.yandex.ru",
            "remontnik.ru",
            "youdo.com",
            "fl.ru",
            "freelance.ru",
            "kwork.ru",
            "pulscen.ru",
            "blizko.ru",
            "tiu.ru",
            "satom.ru",
            "deal.by",
            "prom.ua",
            "all.biz",
            "regmarkets.ru",
            "promportal.su",
            "stroyportal.ru",
            "propartner.ru",
            "mastera-v-rossii.ru",
            "svoemesto.ru",
            "irr.ru",
            "farpost.ru",
            "drom.ru",
            "auto.ru",
            "cian.ru",
            "domclick.ru",
            "n1.ru",
            "tenderpro.ru",
            "rostender.info",
            "zakupki.gov.ru",
            "tiu.su",
            "supl.biz",
            "mir-kvestov.ru",
            "tripadvisor.ru",
            "tripadvisor.com",
            "restoclub.ru",
            "afisha.ru",
            "kudago.com",
            "prodoctorov.ru",
            "napopravku.ru",
            "docdoc.ru",
            "sberhealth.ru",
            "booking.com",
            "ostrovok.ru",
            "sutochno.ru",
            "delivery-club.ru",
            "eda.yandex.ru",
        }
    ),
    # Marketplaces and large retailers.
    "marketplace": frozenset(
        {
            "ozon.ru",
            "wildberries.ru",
            "wb.ru",
            "market.yandex.ru",
            "megamarket.ru",
            "sbermegamarket.ru",
            "aliexpress.ru",
            "aliexpress.com",
            "lamoda.ru",
            "dns-shop.ru",
            "mvideo.ru",
            "eldorado.ru",
            "citilink.ru",
            "leroymerlin.ru",
            "lemanapro.ru",
            "petrovich.ru",
            "obi.ru",
            "vseinstrumenti.ru",
            "kazanexpress.ru",
            "amazon.com",
            "ebay.com",
            "price.ru",
            "e-katalog.ru",
            "torg.mail.ru",
        }
    ),
    # Job boards.
    "jobs": frozenset(
        {
            "hh.ru",
            "hh.kz",
            "headhunter.ru",
            "superjob.ru",
            "rabota.ru",
            "zarplata.ru",
            "trudvsem.ru",
            "careerist.ru",
            "gorodrabot.ru",
            "rabota.yandex.ru",
            "jooble.org",
            "trud.com",
            "habr.com",
            "career.habr.com",
            "dreamjob.ru",
            "vakansii.ru",
        }
    ),
    # Social networks and messengers.
    "social": frozenset(
        {
            "vk.com",
            "vk.ru",
            "vkontakte.ru",
            "ok.ru",
            "odnoklassniki.ru",
            "facebook.com",
            "instagram.com",
            "t.me",
            "telegram.me",
            "telegram.org",
            "tgstat.ru",
            "twitter.com",
            "x.com",
            "linkedin.com",
            "my.mail.ru",
            "livejournal.com",
            "pinterest.com",
            "pinterest.ru",
            "tiktok.com",
            "whatsapp.com",
            "wa.me",
            "taplink.cc",
            "taplink.ws",
        }
    ),
    # Video hosting.
    "video": frozenset(
        {
            "youtube.com",
            "youtu.be",
            "rutube.ru",
            "vkvideo.ru",
            "vimeo.com",
            "dzen.ru",
            "zen.yandex.ru",
            "ivi.ru",
            "kinopoisk.ru",
            "twitch.tv",
        }
    ),
    # Media, news, blogs and Q&A.
    "media": frozenset(
        {
            "ria.ru",
            "rbc.ru",
            "tass.ru",
            "kommersant.ru",
            "vedomosti.ru",
            "rg.ru",
            "lenta.ru",
            "gazeta.ru",
            "iz.ru",
            "mk.ru",
            "kp.ru",
            "aif.ru",
            "fontanka.ru",
            "vc.ru",
            "pikabu.ru",
            "otvet.mail.ru",
            "mail.ru",
            "rambler.ru",
            "banki.ru",
            "sravni.ru",
            "forbes.ru",
            "tinkoff.ru",
            "tbank.ru",
            "journal.tinkoff.ru",
            "thequestion.ru",
            "drive2.ru",
            "forumhouse.ru",
            "ivd.ru",
            "novate.ru",
            "consultant.ru",
            "garant.ru",
            "glavbukh.ru",
            "klerk.ru",
            "buhonline.ru",
            "cyberleninka.ru",
            "studfile.net",
            "pandia.ru",
            "infourok.ru",
            "medium.com",
        }
    ),
    # Review and rating sites.
    "reviews": frozenset(
        {
            "otzovik.com",
            "irecommend.ru",
            "otzyvru.com",
            "otzyvy.pro",
            "pravogolosa.net",
            "spasibovsem.ru",
            "feedbackmarket.ru",
            "otziv-otziv.ru",
            "trustpilot.com",
            "vashotziv.ru",
            "kartaotzyvov.ru",
            "rabotniki.ru",
            "antijob.net",
        }
    ),
    # Government portals, encyclopedias and reference sites.
    "reference": frozenset(
        {
            "wikipedia.org",
            "wikiwand.com",
            "wiktionary.org",
            "wikimedia.org",
            "gosuslugi.ru",
            "nalog.gov.ru",
            "nalog.ru",
            "gov.ru",
            "mos.ru",
            "kremlin.ru",
            "government.ru",
            "rosreestr.gov.ru",
            "fas.gov.ru",
            "pravo.gov.ru",
            "bigenc.ru",
            "dic.academic.ru",
            "academic.ru",
            "gramota.ru",
            "translate.google.com",
            "docs.cntd.ru",
            "sudact.ru",
            "kad.arbitr.ru",
        }
    ),
}

# Union of every category; the non-company filter checks a host and each of its parent domains against it.
DIRECTORY_DOMAINS: frozenset[str] = frozenset().union(*DIRECTORY_DOMAINS_BY_CATEGORY.values())

# Free site builders and hostings not in the Public Suffix List: `firm.tilda.ws` is a company of its own,
# so these act as public suffixes for leadgen.domains (the PSL private section already covers `msk.ru`,
# `spb.ru`, `com.ru`, `github.io`, `wixsite.com`, `blogspot.com`, ...).
SITE_BUILDER_SUFFIXES: frozenset[str] = frozenset(
    {
        "narod.ru",
        "ucoz.ru",
        "ucoz.net",
        "ucoz.com",
        "ucoz.org",
        "at.ua",
        "tilda.ws",
        "nethouse.ru",
        "business.site",
        "ukit.me",
        "jimdofree.com",
        "jimdosite.com",
        "webflow.io",
        "wordpress.com",
        "turbo.site",
        "mya5.ru",
        "okis.ru",
    }
)

# Third-party mail domains: an address on one of these found on a company's site (and not on the company's own
# domain) belongs to whoever built, runs or hosts the site, not to the company, so it is never a recipient
# (leadgen.contacts.thirdparty). Free mail (mail.ru, yandex.ru, gmail.com, ...) is NOT listed: small companies
# use it as their own address. A listed domain also matches its subdomains.
THIRD_PARTY_MAIL_DOMAINS_BY_CATEGORY: dict[str, frozenset[str]] = {
    # Site builders and their support desks (footer "Сделано на Тильде", template credits).
    "site builder": frozenset(
        {
            "tilda.cc",
            "tilda.ws",
            "wix.com",
            "wixsite.com",
            "ukit.com",
            "ukit.me",
            "nethouse.ru",
            "ucoz.ru",
            "ucoz.net",
            "setup.ru",
            "a5.ru",
            "flexbe.ru",
            "flexbe.com",
            "lpgenerator.ru",
            "platformalp.ru",
            "craftum.com",
            "mottor.ru",
            "umi.ru",
            "jimdo.com",
            "squarespace.com",
            "weebly.com",
            "wordpress.com",
            "webflow.com",
            "taplink.ru",
            "okis.ru",
            "narod.ru",
        }
    ),
    # CMS and shop platforms whose vendor address ends up in templates.
    "cms vendor": frozenset(
        {
            "1c-bitrix.ru",
            "bitrix24.ru",
            "insales.ru",
            "ecwid.com",
            "shopify.com",
            "umi-cms.ru",
            "diafan.ru",
            "hostcms.ru",
            "netcat.ru",
            "cs-cart.ru",
        }
    ),
    # Hosting providers and registrars (abuse/support addresses in default pages and footers).
    "hosting": frozenset(
        {
            "reg.ru",
            "nic.ru",
            "r01.ru",
            "beget.com",
            "beget.ru",
            "timeweb.ru",
            "timeweb.com",
            "sprinthost.ru",
            "jino.ru",
            "hostland.ru",
            "masterhost.ru",
            "sweb.ru",
            "spaceweb.ru",
            "mchost.ru",
            "ihc.ru",
            "netangels.ru",
            "majordomo.ru",
            "selectel.ru",
            "firstvds.ru",
            "ruweb.net",
            "godaddy.com",
            "hostinger.com",
            "hetzner.com",
            "cloudflare.com",
        }
    ),
}

"""Russian mail providers: mailbox domains and MX host suffixes that route through the Yandex SMTP route.

Sources: the providers' own help pages on MX setup (Yandex 360 `mx.yandex.net`, VK WorkMail / Mail.ru
`mxs.mail.ru` and `emx.mail.ru`, Rambler `mx.rambler.ru`) and the MX hosts of the large Russian hosting
companies (reg.ru, Timeweb, Beget, SpaceWeb/SWEB, Masterhost, RU-CENTER, Jino, McHost, Hostland, NetAngels).
"""

from __future__ import annotations

# Public mailbox domains of Russian providers (recipient domain known without a DNS lookup).
RU_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # Yandex
        "yandex.ru",
        "yandex.net",
        "yandex.com",
        "yandex.by",
        "yandex.kz",
        "yandex.ua",
        "ya.ru",
        "narod.ru",
        # Mail.ru (VK)
        "mail.ru",
        "bk.ru",
        "list.ru",
        "inbox.ru",
        "internet.ru",
        "mail.ua",
        # Rambler
        "rambler.ru",
        "rambler.ua",
        "lenta.ru",
        "autorambler.ru",
        "myrambler.ru",
        "ro.ru",
        # others
        "pochta.ru",
        "qip.ru",
        "sibmail.com",
        "ngs.ru",
        "nm.ru",
    }
)

# MX host suffixes (a host matches when it equals the suffix or ends with "." + suffix).
RU_MX_SUFFIXES: tuple[str, ...] = (
    "yandex.net",
    "yandex.ru",
    "mail.ru",  # mxs.mail.ru, emx.mail.ru (VK WorkMail)
    "rambler.ru",  # mx.rambler.ru
    "rambler-co.ru",
    "hosting.reg.ru",
    "reg.ru",
    "timeweb.ru",
    "beget.com",
    "beget.ru",
    "sweb.ru",
    "spaceweb.ru",
    "masterhost.ru",
    "nic.ru",
    "jino.ru",
    "mchost.ru",
    "hostland.ru",
    "netangels.ru",
    "sprinthost.ru",
    "majordomo.ru",
)

# Top-level domains whose MX hosts we treat as Russian when no provider suffix matched.
RU_MX_TLDS: tuple[str, ...] = ("ru", "su", "xn--p1ai")

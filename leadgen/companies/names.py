"""Company-name normalisation for name-only dedupe: legal forms, quotes and punctuation removed; pure functions."""

from __future__ import annotations

import re

from rapidfuzz import fuzz

# Russian organisational-legal forms (ГК РФ ч. 1 гл. 4 and common abbreviations) and a few foreign ones seen in
# Russian results. Longest first so "публичное акционерное общество" wins over "акционерное общество".
LEGAL_FORMS = (
    "общество с ограниченной ответственностью",
    "публичное акционерное общество",
    "непубличное акционерное общество",
    "закрытое акционерное общество",
    "открытое акционерное общество",
    "акционерное общество",
    "индивидуальный предприниматель",
    "автономная некоммерческая организация",
    "некоммерческое партнерство",
    "производственный кооператив",
    "общество с ограниченной ответственностью",
)
LEGAL_ABBREVIATIONS = (
    "ооо",
    "оао",
    "зао",
    "пао",
    "нао",
    "ао",
    "ип",
    "ано",
    "нко",
    "llc",
    "ltd",
    "inc",
    "gmbh",
)
LEGAL_FORMS_RE = re.compile(
    r"(?<!\w)(?:"
    + "|".join(re.escape(f) for f in sorted(set(LEGAL_FORMS), key=len, reverse=True))
    + r")(?!\w)"
)
LEGAL_ABBR_RE = re.compile(
    r"(?<!\w)(?:" + "|".join(re.escape(a) for a in LEGAL_ABBREVIATIONS) + r")\.?(?!\w)"
)
QUOTES_RE = re.compile(r"[\"'«»“”„‟‘’‚‛`´]")
NON_WORD_RE = re.compile(r"[\W_]+")
SPACES_RE = re.compile(r"\s+")


def normalise_name(name: str | None, /) -> str | None:
    """Lower case, ё→е, legal forms (ООО, АО, ИП, ПАО, ...) and quotes removed, punctuation collapsed; None if empty.

    >>> normalise_name('ООО «Ромашка-Плюс»')
    'ромашка плюс'
    """
    if not name:
        return None
    text = name.lower().replace("ё", "е")
    text = QUOTES_RE.sub(" ", text)
    text = LEGAL_FORMS_RE.sub(" ", text)
    text = NON_WORD_RE.sub(" ", text)
    text = LEGAL_ABBR_RE.sub(" ", text)
    text = SPACES_RE.sub(" ", text).strip()
    return text or None


def name_similarity(a: str, b: str, /) -> float:
    """rapidfuzz ratio (0-100) of two already normalised names."""
    return float(fuzz.ratio(a, b))

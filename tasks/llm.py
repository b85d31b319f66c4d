"""The LLM call as a cached task: one request (briefs, offer, model, prompt version) is paid for once.

Only the model call is a task run: the fallback composer is free and stays a plain call, so drafting with no API
key adds no task runs. The record holds the model's answer (subject and body, the text `outreach_messages` stores)
or why it was unusable; the key is a digest of the request, and the request carries no credential.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import openai
from prefect import task

from leadgen.errors import DraftRejected
from leadgen.outreach.briefs import CompanyBrief, ContactBrief
from leadgen.outreach.composer import ComposedDraft, Composer, LlmComposer, build_composer
from leadgen.outreach.offer import OfferBrief
from leadgen.outreach.template import EmailTemplate
from leadgen.settings import Settings
from tasks.cache import cache_key, committed_at_once, storage_path


def _given_key(_context: Any, parameters: dict[str, Any]) -> str:
    return str(parameters["key"])


@task(
    name="llm-draft",
    task_run_name="llm-draft {label}",
    cache_key_fn=_given_key,
    persist_result=True,
    result_serializer="json",
)
def llm_draft_task(key: str, label: str, ask: Callable[[], EmailTemplate]) -> dict[str, str]:
    """Ask the model once for a draft; an unusable answer is cached too (it was paid for). An API error fails
    the task run (nothing cached; the composer falls back) with the error's first line, never its details."""
    try:
        draft = ask()
    except DraftRejected as exc:
        return {"rejected": str(exc)}
    except openai.OpenAIError as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise openai.OpenAIError(f"{type(exc).__name__}: {first}") from None
    return {"subject": draft.subject, "body": draft.body}


class CachedLlmComposer:
    """An LlmComposer whose model calls go through `llm-draft` (guardrails and fallback stay outside the cache)."""

    name = "llm"

    def __init__(self, inner: LlmComposer, *, settings: Settings) -> None:
        self.inner = inner
        self._task = llm_draft_task.with_options(
            result_storage=storage_path(settings),
            cache_expiration=timedelta(days=settings.cache_llm_draft_days),
        )

    def key(self, company: CompanyBrief, offer: OfferBrief) -> str:
        return self.inner.key(company, offer)

    def compose(self, company: CompanyBrief, contact: ContactBrief, offer: OfferBrief) -> ComposedDraft:
        return self.inner.compose(company, contact, offer, ask=self._ask)

    def _ask(self, company: CompanyBrief, contact: ContactBrief, offer: OfferBrief) -> EmailTemplate:
        with committed_at_once():  # kept even when the draft task fails afterwards
            answer = self._task(
                key=cache_key("llm", self.inner.request_key(company, contact, offer)),
                label=company.domain or f"company {company.company_id}",
                ask=partial(self.inner.ask, company, contact, offer),
            )
        if "rejected" in answer:
            raise DraftRejected(answer["rejected"])
        return EmailTemplate(answer["subject"], answer["body"])


def cached_composer(settings: Settings) -> Composer:
    """The composer of the draft task: the LLM composer with its calls cached, or the (free) fallback."""
    composer = build_composer(settings)
    return CachedLlmComposer(composer, settings=settings) if isinstance(composer, LlmComposer) else composer

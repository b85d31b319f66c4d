"""The notification blocks the alert automations send through, built from ALERT_* settings (core Prefect blocks).

Automation actions run on the Prefect server, which loads the block by its type: so only block types the server
ships are used, never a leadgen class.

- `ALERT_WEBHOOK_URL`: a "Custom Webhook" block POSTing `{"subject", "body"}` as JSON. The URL is kept in the
  block's `secrets` (shown obfuscated in the UI) and referenced from `url` as `{{webhook_url}}`.
- `ALERT_EMAIL_TO`: mail through the SMTP route ALERT_EMAIL_ROUTE (SMTP_YANDEX_* by default). Prefect ships no
  SMTP notification block (SendgridEmail is Sendgrid's API only), but its Apprise blocks hand their secret URL to
  Apprise, whose `mailto://`/`mailtos://` URLs send through any SMTP server. The "Slack Webhook" block passes
  a URL that is not a Slack webhook straight to Apprise (prefect/blocks/notifications.py), so it carries the
  `mailtos://user:password@smtp.yandex.ru:587?...` URL; the whole URL, password included, is a SecretStr.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode

from prefect.blocks.core import Block
from prefect.blocks.notifications import CustomWebhookNotificationBlock, SlackWebhook
from prefect.client.orchestration import PrefectClient
from prefect.exceptions import ObjectNotFound
from pydantic import SecretStr

from leadgen.errors import ConfigurationError
from leadgen.settings import Settings, SmtpRoute

BLOCK_NAME = "leadgen-alerts"
WEBHOOK_BLOCK_NAME = f"{BLOCK_NAME}-webhook"
EMAIL_BLOCK_NAME = f"{BLOCK_NAME}-email"
WEBHOOK_JSON = {"subject": "{{subject}}", "body": "{{body}}", "source": "{{name}}"}
# smtplib security of a route -> Apprise scheme and `mode`
APPRISE_MODES = {
    "ssl": ("mailtos", "ssl"),
    "starttls": ("mailtos", "starttls"),
    "none": ("mailto", "insecure"),
}

NotificationKind = Literal["webhook", "email"]


@dataclass(frozen=True, slots=True)
class NotificationSpec:
    """One notification block to create or update: its kind, document name and the block itself."""

    kind: NotificationKind
    name: str
    block: Block

    @property
    def block_type(self) -> str:
        return self.block.get_block_type_slug()


def apprise_mail_url(route: SmtpRoute, to: list[str]) -> SecretStr:
    """An Apprise `mailto(s)://` URL that sends through `route` to `to` (user and password percent-encoded)."""
    sender = route.from_address or route.username
    if not sender:
        raise ConfigurationError(
            f"ALERT_EMAIL_TO needs SMTP_{route.name.upper()}_FROM or SMTP_{route.name.upper()}_USERNAME "
            f"(the sender of alert mail on route {route.name})"
        )
    scheme, mode = APPRISE_MODES[route.security]
    auth = ""
    if route.username:
        password = route.password.get_secret_value() if route.password else ""
        auth = f"{quote(route.username, safe='')}:{quote(password, safe='')}@"
    query = urlencode({"to": ",".join(to), "from": sender, "mode": mode, "name": "leadgen alerts"})
    return SecretStr(f"{scheme}://{auth}{route.host}:{route.port}/?{query}")


def webhook_block(url: SecretStr) -> CustomWebhookNotificationBlock:
    """A Custom Webhook block POSTing the subject and body as JSON to `url` (kept among the block's secrets)."""
    return CustomWebhookNotificationBlock(
        name=WEBHOOK_BLOCK_NAME,
        url="{{webhook_url}}",
        method="POST",
        json_data=dict(WEBHOOK_JSON),
        secrets={"webhook_url": url.get_secret_value()},  # type: ignore[arg-type]
        headers=None,
        cookies=None,
        timeout=10,
    )


def email_block(settings: Settings) -> SlackWebhook:
    """An Apprise block mailing ALERT_EMAIL_TO through ALERT_EMAIL_ROUTE (see the module docstring)."""
    route = settings.smtp_route(settings.alert_email_route)
    return SlackWebhook(url=apprise_mail_url(route, settings.alert_email_to), notify_type="failure")


def notification_specs(settings: Settings) -> tuple[NotificationSpec, ...]:
    """The blocks ALERT_* ask for: a webhook, an email, both (each automation notifies through all) or none."""
    specs: list[NotificationSpec] = []
    if settings.alert_webhook_url is not None:
        specs.append(
            NotificationSpec("webhook", WEBHOOK_BLOCK_NAME, webhook_block(settings.alert_webhook_url))
        )
    if settings.alert_email_to:
        specs.append(NotificationSpec("email", EMAIL_BLOCK_NAME, email_block(settings)))
    return tuple(specs)


def _same(existing: Block, desired: Block) -> bool:
    """Field by field, secrets compared by value (SecretStr and SecretDict compare their contents)."""
    keys = type(desired).model_fields
    return all(_reveal(getattr(existing, k, None)) == _reveal(getattr(desired, k)) for k in keys)


def _reveal(value: object) -> object:
    getter = getattr(value, "get_secret_value", None)
    return getter() if callable(getter) else value


async def ensure_block(client: PrefectClient, spec: NotificationSpec) -> tuple[str, object]:
    """Create or update the block document `spec.name`; ("created" | "updated" | "unchanged", its id)."""
    cls = type(spec.block)
    try:
        document = await client.read_block_document_by_name(
            spec.name, block_type_slug=spec.block_type, include_secrets=True
        )
    except ObjectNotFound:
        document = None
    if document is not None:
        existing = cls.model_validate(document.data)
        if _same(existing, spec.block):
            return "unchanged", document.id
    block_id = await spec.block.asave(spec.name, overwrite=True, client=client)
    return ("created" if document is None else "updated"), block_id

"""Text messages through a licensed provider in mainland China (Alibaba Cloud, Tencent Cloud).

    Texter.send(phone, code)                      what auth calls for a login code
    Texter.send_text(phone, kind, params, out_id) any other kind (registration, notices)
    SmsProvider                                   one per provider: ConsoleProvider (local),
                                                  sms_alibaba.AlibabaProvider,
                                                  sms_tencent.TencentProvider

A text is the provider's approved template for its kind (template code per kind and the
registered signature come from configuration) with template parameters only. Provider
refusals become `SmsFailed` (an AppError: stable code, Chinese message, never a 500);
timeouts and 5xx are retried with backoff first. The SDKs are imported only when a text
is sent (cold start); the credentials come from SSM like every secret (`backend.ssm`:
`/countycare/<stage>/sms-key-id`, `sms-key-secret`).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from backend.errors import AppError
from backend.models.base import new_id
from backend.rules import texts as rules
from backend.rules.identity import mask_mobile

__all__ = ["SmsSettings", "SmsProvider", "SmsError", "SmsFailed", "Sent", "Texter",
           "ConsoleProvider", "make_texter", "make_sender", "CodeSender"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsSettings:
    provider: str = "console"          # console, alibaba, tencent
    signature: str = "县域健康"          # the registered 签名
    templates: dict = field(default_factory=dict)   # kind -> approved template code
    endpoint: str = ""                 # override (tests: a local fake on 127.0.0.1)
    region: str = ""
    app_id: str = ""                   # Tencent's SmsSdkAppId
    key_id: str = ""
    key_secret: str = ""
    timeout_seconds: float = 5.0
    attempts: int = 3
    backoff_seconds: float = 0.5

    @classmethod
    def from_config(cls, config) -> "SmsSettings":
        raw = config.sms_templates
        templates = json.loads(raw) if isinstance(raw, str) and raw else dict(raw or {})
        return cls(provider=config.sms_provider, signature=config.sms_signature,
                   templates=templates, endpoint=config.sms_endpoint, region=config.sms_region,
                   app_id=config.sms_app_id, key_id=config.sms_key_id,
                   key_secret=config.sms_key_secret, timeout_seconds=config.sms_timeout_seconds,
                   attempts=config.sms_attempts, backoff_seconds=config.sms_backoff_seconds)


class SmsError(Exception):
    """A provider's refusal, classified (`rules.texts.REASONS`), with its own code."""

    def __init__(self, reason: str, provider_code: str = ""):
        super().__init__(f"{reason} ({provider_code})")
        self.reason, self.provider_code = reason, provider_code


class SmsFailed(AppError):
    """A text that could not be sent, for people and the API (never a 500)."""

    def __init__(self, reason: str, provider_code: str = ""):
        status, code, message = rules.REASONS.get(reason, rules.REASONS["rejected"])
        super().__init__(message, code=code, retry_after=60 if reason == "throttled" else None)
        self.status, self.reason, self.provider_code = status, reason, provider_code


@dataclass(frozen=True)
class Sent:
    provider: str
    message_id: str    # Alibaba's BizId, Tencent's SerialNo: what receipts refer to
    attempts: int


class SmsProvider(Protocol):
    name: str

    def send(self, phone: str, template_code: str, params: dict[str, str], *,
             signature: str, out_id: str) -> str:
        """The provider's message id; raises SmsError."""


class ConsoleProvider:
    """Prints texts for the developer; remembers them for tests (local runs only)."""

    name = "console"

    def __init__(self) -> None:
        self.sent: dict[str, dict[str, str]] = {}
        self.messages: list[dict] = []

    def send(self, phone: str, template_code: str, params: dict[str, str], *,
             signature: str, out_id: str) -> str:
        message_id = "console-" + new_id()
        self.sent[phone] = dict(params)
        self.messages.append({"phone": phone, "template": template_code, "params": dict(params),
                              "message_id": message_id, "out_id": out_id})
        # Printed, not logged: the masked number only, so the log stays free of numbers.
        if "code" in params:
            print(f"[CountyCare 验证码] {mask_mobile(phone)}: {params['code']}", flush=True)
        else:
            print(f"[CountyCare 短信] {mask_mobile(phone)} 【{signature}】{template_code} {params}",
                  flush=True)
        return message_id


class CodeSender(Protocol):
    """The small interface auth uses for login codes."""

    def send(self, phone: str, code: str) -> None: ...


class Texter:
    """The one way the app sends a text: template per kind, retries, classified errors."""

    def __init__(self, provider: SmsProvider, settings: SmsSettings,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.provider, self.settings, self.sleep = provider, settings, sleep

    @property
    def name(self) -> str:
        return self.provider.name

    def send(self, phone: str, code: str) -> None:
        """A login code (auth's `CodeSender`)."""
        self.send_text(phone, "login_code", {"code": code})

    def send_text(self, phone: str, kind: str, params: dict[str, str], *,
                  out_id: str | None = None) -> Sent:
        params = rules.check_params(kind, params)
        template = self.settings.templates.get(kind)
        if not template:
            if self.provider.name != "console":
                log.error("no approved template configured for text kind %s", kind)
                raise SmsFailed("template_not_approved", "not_configured")
            template = f"local-{kind}"
        out_id = out_id or new_id()
        attempt = 0
        while True:
            attempt += 1
            try:
                message_id = self.provider.send(phone, template, params,
                                                signature=self.settings.signature, out_id=out_id)
                return Sent(self.provider.name, message_id, attempt)
            except SmsError as err:
                if err.reason not in rules.RETRYABLE_REASONS or attempt >= self.settings.attempts:
                    log.warning("text %s via %s failed: %s %s after %d attempt(s)", kind,
                                self.provider.name, err.reason, err.provider_code, attempt)
                    raise SmsFailed(err.reason, err.provider_code) from None
            self.sleep(min(self.settings.backoff_seconds * (2 ** (attempt - 1)), 10.0))

    def last_code(self, phone: str) -> str | None:
        """The console's last login code for a number (tests and local runs)."""
        sent = getattr(self.provider, "sent", {})
        return sent.get(phone, {}).get("code")


def make_texter(config) -> Texter:
    settings = SmsSettings.from_config(config)
    if settings.provider == "alibaba":
        from backend.services.sms_alibaba import AlibabaProvider
        provider: SmsProvider = AlibabaProvider(settings)
    elif settings.provider == "tencent":
        from backend.services.sms_tencent import TencentProvider
        provider = TencentProvider(settings)
    elif settings.provider == "console":
        provider = ConsoleProvider()
    else:
        raise RuntimeError(f"unknown COUNTYCARE_SMS_PROVIDER {settings.provider!r}")
    return Texter(provider, settings)


make_sender = make_texter  # the name create_app used for the login-code sender

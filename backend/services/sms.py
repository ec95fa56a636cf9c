"""Senders of login codes: the console locally, Amazon SNS text messages in production."""
from __future__ import annotations

import logging
from typing import Protocol

from backend.rules.identity import mask_mobile

__all__ = ["CodeSender", "ConsoleSender", "SnsSender", "make_sender"]

log = logging.getLogger(__name__)


class CodeSender(Protocol):
    def send(self, phone: str, code: str) -> None: ...


class ConsoleSender:
    """Prints the code for the developer; remembers the last code per number for tests."""

    def __init__(self) -> None:
        self.sent: dict[str, str] = {}

    def send(self, phone: str, code: str) -> None:
        self.sent[phone] = code
        # Printed, not logged: the masked number only, so the log stays free of phone numbers.
        print(f"[CountyCare 验证码] {mask_mobile(phone)}: {code}", flush=True)

    def last_code(self, phone: str) -> str | None:
        return self.sent.get(phone)


class SnsSender:
    """Sends the code as a transactional text message through Amazon SNS."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._client = None

    def send(self, phone: str, code: str) -> None:
        if self._client is None:
            import boto3
            self._client = boto3.client("sns", region_name=self.region)
        self._client.publish(
            PhoneNumber=f"+86{phone}",
            Message=f"【县域健康】您的登录验证码是{code}，5分钟内有效。请勿告诉他人。",
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String",
                                                       "StringValue": "Transactional"}},
        )


def make_sender(kind: str, region: str) -> CodeSender:
    return SnsSender(region) if kind == "sms" else ConsoleSender()

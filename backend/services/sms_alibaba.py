"""Alibaba Cloud SMS (Dysmsapi 2017-05-25, `SendSms`) as an `SmsProvider`.

The SDK (alibabacloud-dysmsapi20170525, ACS3-HMAC-SHA256 signed requests) is imported on
the first text, not at start-up (it costs cold start). `SmsSettings.endpoint` overrides
`dysmsapi.aliyuncs.com`; an `http://` endpoint (the tests' local fake) is spoken in HTTP.
"""
from __future__ import annotations

import json
import logging
import threading

from backend.rules import texts as rules
from backend.services.sms import SmsError, SmsSettings

__all__ = ["AlibabaProvider", "DEFAULT_ENDPOINT"]

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"


class AlibabaProvider:
    name = "alibaba"

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings
        self._client = None
        self._lock = threading.Lock()

    def _sdk(self):
        with self._lock:
            if self._client is None:
                from alibabacloud_dysmsapi20170525.client import Client
                from alibabacloud_tea_openapi.utils_models import Config

                endpoint = self.settings.endpoint or DEFAULT_ENDPOINT
                protocol = "http" if endpoint.startswith("http://") else "https"
                host = endpoint.split("://", 1)[-1].rstrip("/")
                self._client = Client(Config(
                    access_key_id=self.settings.key_id, access_key_secret=self.settings.key_secret,
                    endpoint=host, protocol=protocol, region_id=self.settings.region or "cn-hangzhou"))
            return self._client

    def send(self, phone: str, template_code: str, params: dict[str, str], *,
             signature: str, out_id: str) -> str:
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_openapi.exceptions import (ClientException, ServerException,
                                                          ThrottlingException)
        from darabonba.runtime import RuntimeOptions

        timeout_ms = int(self.settings.timeout_seconds * 1000)
        # Our Texter retries (with backoff); the SDK must not retry on its own.
        runtime = RuntimeOptions(autoretry=False, max_attempts=1, read_timeout=timeout_ms,
                                 connect_timeout=min(timeout_ms, 3000))
        request = models.SendSmsRequest(
            phone_numbers=phone, sign_name=signature, template_code=template_code,
            template_param=json.dumps(params, ensure_ascii=False), out_id=out_id)
        try:
            response = self._sdk().send_sms_with_options(request, runtime)
        except ThrottlingException as err:
            raise SmsError("throttled", err.code or "Throttling") from None
        except ServerException as err:
            raise SmsError("unavailable", f"http {err.status_code} {err.code}") from None
        except ClientException as err:
            raise SmsError(rules.reason_for(err.code or "", rules.ALIBABA_REASONS),
                           err.code or "") from None
        except Exception as err:  # timeouts and refused connections (the SDK's RetryError)
            log.warning("alibaba sms: %s", type(err).__name__)
            raise SmsError("unavailable", type(err).__name__) from None
        body = response.body
        if body.code != "OK":
            raise SmsError(rules.reason_for(body.code or "", rules.ALIBABA_REASONS), body.code or "")
        return body.biz_id

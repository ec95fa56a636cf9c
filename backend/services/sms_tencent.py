"""Tencent Cloud SMS (2021-01-11, `SendSms`) as an `SmsProvider`.

The SDK (tencentcloud-sdk-python-sms, TC3-HMAC-SHA256 signed requests) is imported on the
first text, not at start-up. `SmsSettings.endpoint` overrides `sms.tencentcloudapi.com`;
an `http://` endpoint (the tests' local fake) is spoken in HTTP. Tencent's templates take
positional parameters: they are sent in the order `rules.texts.TEMPLATE_PARAMS` names them.
"""
from __future__ import annotations

import logging
import threading

from backend.rules import texts as rules
from backend.services.sms import SmsError, SmsSettings

__all__ = ["TencentProvider", "DEFAULT_ENDPOINT"]

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "sms.tencentcloudapi.com"


class TencentProvider:
    name = "tencent"

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings
        self._client = None
        self._lock = threading.Lock()

    def _sdk(self):
        with self._lock:
            if self._client is None:
                from tencentcloud.common.credential import Credential
                from tencentcloud.common.profile.client_profile import ClientProfile
                from tencentcloud.common.profile.http_profile import HttpProfile
                from tencentcloud.sms.v20210111.sms_client import SmsClient

                endpoint = self.settings.endpoint or DEFAULT_ENDPOINT
                protocol = "http" if endpoint.startswith("http://") else "https"
                host = endpoint.split("://", 1)[-1].rstrip("/")
                http = HttpProfile(protocol=protocol, endpoint=host,
                                   reqTimeout=max(1, int(self.settings.timeout_seconds)))
                profile = ClientProfile(httpProfile=http)
                profile.disable_region_breaker = True
                self._client = SmsClient(Credential(self.settings.key_id, self.settings.key_secret),
                                         self.settings.region or "ap-guangzhou", profile)
            return self._client

    def send(self, phone: str, template_code: str, params: dict[str, str], *,
             signature: str, out_id: str) -> str:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import \
            TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.PhoneNumberSet = [f"+86{phone}"]
        request.SmsSdkAppId = self.settings.app_id
        request.SignName = signature
        request.TemplateId = template_code
        request.TemplateParamSet = list(params.values())
        request.SessionContext = out_id
        try:
            response = self._sdk().SendSms(request)
        except TencentCloudSDKException as err:
            code = err.get_code() or ""
            raise SmsError(rules.reason_for(code, rules.TENCENT_REASONS), code) from None
        except Exception as err:
            log.warning("tencent sms: %s", type(err).__name__)
            raise SmsError("unavailable", type(err).__name__) from None
        status = (response.SendStatusSet or [None])[0]
        if status is None:
            raise SmsError("rejected", "no_status")
        if status.Code != "Ok":
            raise SmsError(rules.reason_for(status.Code or "", rules.TENCENT_REASONS), status.Code or "")
        return status.SerialNo

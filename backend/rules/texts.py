"""Text-message rules: template parameters per kind, provider error codes, the ladder (pure).

Providers in mainland China send only approved templates under a registered signature, so
a text is a template code (per kind, from configuration) plus parameters, never free text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TEMPLATE_PARAMS", "check_params", "InvalidParams", "REASONS", "reason_for",
           "ALIBABA_REASONS", "TENCENT_REASONS", "Ladder", "LADDER", "ladder_for",
           "NOTICE_LABELS", "label_for", "is_must_arrive", "RETRYABLE_REASONS",
           "receipt_status", "parse_receipts", "TEAM_KNOWS"]

# What each kind of text carries. Notices carry only their Chinese label: health details
# stay in the app (a text is read on a lock screen, often on a shared phone).
TEMPLATE_PARAMS: dict[str, tuple[str, ...]] = {
    "login_code": ("code",),
    "registration_done": ("name",),
    "registration_declined": ("name",),
    "notice": ("label",),
}
# Providers refuse long or odd variables; 20 characters is Alibaba's limit for most kinds.
_PARAM = re.compile(r"^[\w\u4e00-\u9fff·：:（）() -]{1,20}$")


class InvalidParams(ValueError):
    """Parameters that do not match the kind's template."""


def check_params(kind: str, params: dict[str, str]) -> dict[str, str]:
    """The template parameters of `kind`, exactly, each short and plain."""
    names = TEMPLATE_PARAMS.get(kind)
    if names is None:
        raise InvalidParams(f"unknown text kind {kind!r}")
    if set(params) != set(names):
        raise InvalidParams(f"{kind} takes {names}, got {sorted(params)}")
    for name in names:
        if not isinstance(params[name], str) or not _PARAM.fullmatch(params[name]):
            raise InvalidParams(f"{kind}.{name} is not a plain short value")
    return {name: params[name] for name in names}


# Why a provider refused, in our words; each has a stable API code and Chinese text.
REASONS: dict[str, tuple[int, str, str]] = {
    "throttled": (429, "sms_throttled", "短信发送太频繁，请1分钟后再试"),
    "invalid_number": (422, "sms_invalid_number", "该手机号无法接收短信，请核对号码后重试"),
    "template_not_approved": (503, "sms_template_not_approved",
                              "短信服务暂不可用（短信模板未通过审核），请联系乡镇卫生院"),
    "out_of_credit": (503, "sms_out_of_credit", "短信服务暂不可用（短信余额不足），请联系乡镇卫生院"),
    "unavailable": (503, "sms_unavailable", "短信服务暂时无法连接，请稍后再试"),
    "rejected": (502, "sms_rejected", "短信未能发出，请稍后再试或联系乡镇卫生院"),
}
RETRYABLE_REASONS = frozenset({"unavailable"})

# Alibaba Cloud SMS (Dysmsapi 2017-05-25) `Code` values.
ALIBABA_REASONS: dict[str, str] = {
    "isv.BUSINESS_LIMIT_CONTROL": "throttled",
    "isv.DAY_LIMIT_CONTROL": "throttled",
    "isv.MOBILE_NUMBER_ILLEGAL": "invalid_number",
    "isv.MOBILE_COUNT_OVER_LIMIT": "invalid_number",
    "isv.SMS_TEMPLATE_ILLEGAL": "template_not_approved",
    "isv.TEMPLATE_MISSING_PARAMETERS": "template_not_approved",
    "isv.SMS_SIGNATURE_ILLEGAL": "template_not_approved",
    "isv.AMOUNT_NOT_ENOUGH": "out_of_credit",
    "isv.OUT_OF_SERVICE": "out_of_credit",
    "Throttling.User": "throttled",
    "ServiceUnavailable": "unavailable",
    "InternalError": "unavailable",
}
# Tencent Cloud SMS (2021-01-11) `Code` values (per number, or of the whole request).
TENCENT_REASONS: dict[str, str] = {
    "LimitExceeded.PhoneNumberDailyLimit": "throttled",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "throttled",
    "LimitExceeded.PhoneNumberOneHourLimit": "throttled",
    "LimitExceeded.PhoneNumberSameContentDailyLimit": "throttled",
    "RequestLimitExceeded": "throttled",
    "InvalidParameterValue.IncorrectPhoneNumber": "invalid_number",
    "FailedOperation.PhoneNumberInBlacklist": "invalid_number",
    "FailedOperation.TemplateIncorrectOrUnapproved": "template_not_approved",
    "FailedOperation.SignatureIncorrectOrUnapproved": "template_not_approved",
    "InvalidParameterValue.TemplateParameterFormatError": "template_not_approved",
    "FailedOperation.InsufficientBalanceInSmsPackage": "out_of_credit",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": "rejected",
    "InternalError.Timeout": "unavailable",
    "ServerNetworkError": "unavailable",      # the SDK's name for a non-200 answer
    "ClientNetworkError": "unavailable",      # ... and for a timeout or refused connection
    "InternalError.RequestTimeException": "rejected",
    "InternalError": "unavailable",
}


def reason_for(provider_code: str, table: dict[str, str]) -> str:
    if provider_code in table:
        return table[provider_code]
    prefix = provider_code.split(".")[0]
    return table.get(prefix, "rejected")


def receipt_status(success: bool) -> str:
    return "delivered" if success else "failed"


# ---- the notice ladder ------------------------------------------------------------------

@dataclass(frozen=True)
class Ladder:
    """How a must-arrive kind climbs: push first; a text after `confirm_minutes` if the
    push was not confirmed (clicked or read); `urgent` texts ignore quiet hours."""

    confirm_minutes: int
    urgent: bool


LADDER: dict[str, Ladder] = {
    "slot_offer": Ladder(confirm_minutes=5, urgent=True),         # the offer lasts 30 min
    "day_closed": Ladder(confirm_minutes=30, urgent=True),        # 停诊: before they travel
    "referral_booked": Ladder(confirm_minutes=120, urgent=False),
    "vaccine_overdue": Ladder(confirm_minutes=24 * 60, urgent=False),
}


def ladder_for(kind: str) -> Ladder | None:
    return LADDER.get(kind)


def is_must_arrive(kind: str) -> bool:
    return kind in LADDER


# Every kind a notice can have, in the inbox's words (and in a text's `label`).
NOTICE_LABELS: dict[str, str] = {
    "slot_offer": "号源释放",
    "day_closed": "停诊通知",
    "referral_booked": "转诊预约",
    "appointment_reminder": "就诊提醒",
    "vaccine_due": "疫苗接种",
    "vaccine_overdue": "疫苗逾期",
    "followup_due": "随访提醒",
    "noshow_warning": "未到诊提醒",
    "booking_paused": "预约暂停",
    "contract_renewal": "签约续约",
    "contract_signed": "签约生效",
    "contract_offer": "签约确认",
    "registration": "登记结果",
    "consent": "隐私授权",
}


# Kinds the family doctor's team is not copied on for a resident without a phone: the team
# caused them (a contract it signed or offered, a referral it made, a visit it just did) or
# already has them in its own lists.
TEAM_KNOWS = frozenset({"contract_signed", "contract_offer", "contract_renewal", "followup_due",
                        "referral_booked", "rate_service"})


def label_for(kind: str) -> str:
    return NOTICE_LABELS.get(kind, "通知")


# ---- delivery receipts (the providers' HTTP push formats) ---------------------------------

def _china_time(text: str):
    from datetime import datetime
    from zoneinfo import ZoneInfo
    try:
        return datetime.strptime(text or "", "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=ZoneInfo("Asia/Shanghai"))
    except ValueError:
        return None


def parse_receipts(provider: str, body) -> list[tuple[str, bool, str, object]]:
    """[(provider message id, delivered, status code, time or None)]; junk entries dropped.

    Alibaba (SmsReport): [{"biz_id", "success", "err_code", "report_time", ...}]
    Tencent: [{"sid", "report_status": "SUCCESS"|"FAIL", "errmsg", "user_receive_time"}]
    """
    if not isinstance(body, list):
        raise ValueError("a receipt push is a JSON array")
    out = []
    for item in body[:500]:
        if not isinstance(item, dict):
            continue
        if provider == "alibaba":
            mid, ok = item.get("biz_id"), item.get("success")
            code, at = item.get("err_code"), item.get("report_time")
        elif provider == "tencent":
            mid, ok = item.get("sid"), item.get("report_status") == "SUCCESS"
            code, at = item.get("errmsg"), item.get("user_receive_time")
        else:
            raise ValueError("unknown provider")
        if isinstance(mid, str) and 0 < len(mid) <= 64 and isinstance(ok, bool):
            out.append((mid, ok, str(code or "")[:40], _china_time(str(at or ""))))
    return out

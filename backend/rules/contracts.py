"""Family-doctor contracts, long prescriptions, free health checks and call outcomes."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["CONTRACT_KINDS", "CONTRACT_YEARS", "contract_term", "renewal_reminder_day",
           "ContractRuleError", "check_contract_years", "prescription_refill",
           "PRESCRIPTION_WEEKS", "screen_health_check", "CALL_OUTCOMES", "hidden_until",
           "quarter_start", "CONTACT_CHANNELS", "TEAM_ROLES", "CONSENT_VERSION", "CONSENT_TEXT",
           "Consent", "CONSENT_METHODS", "paper_consent", "app_consent"]

CONTRACT_KINDS = {"individual": "个人签约", "household": "家庭签约", "workplace": "单位签约"}
CONTRACT_YEARS = (1, 2, 3)
RENEWAL_NOTICE_DAYS = 30
PRESCRIPTION_WEEKS = (4, 12)
CONTACT_CHANNELS = {"phone": "电话", "wechat": "微信", "sms": "短信", "app": "应用消息", "visit": "上门/面对面"}
TEAM_ROLES = {"gp": "全科医生", "nurse": "护士", "public_health": "公卫医生", "village_doctor": "乡村医生"}
# agreed to come: off the call list for 7 days; call later: 30 days; remove: for good.
CALL_OUTCOMES = {"agreed": ("同意来随访", 7), "later": ("稍后再联系", 30), "remove": ("移出名单", None)}

CONSENT_VERSION = "2026-01"
CONSENT_TEXT = (
    "本人自愿与家庭医生团队签订家庭医生签约服务协议。团队为本人提供基本医疗、基本公共卫生"
    "和约定的健康管理服务（含慢病随访、健康体检、长处方、转诊等），每季度至少联系一次。"
    "本人同意团队成员为提供上述服务查阅和记录本人的健康档案，每次查阅均留痕。"
    "协议期满前30天提醒续约；本人可随时解约。")


class ContractRuleError(ValueError):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


CONSENT_METHODS = {"app": "居民在应用中确认", "paper": "签署纸质协议"}
_FORM_NO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,31}")


@dataclass(frozen=True)
class Consent:
    """The evidence that a person agreed to a contract, kept on the contract row.

    `method` app: `confirmed_by` (the resident, or their authorised proxy) confirmed the
    text of `version` in the app; `witness` is the doctor who offered it at the desk, if any.
    `method` paper: the person signed paper form `form_no` of `version` in front of
    `witness` (the staff account that signs the contract). Actors are account ids.
    """
    method: str
    version: str
    witness: str | None = None
    form_no: str | None = None
    confirmed_by: str | None = None


def _check_version(version: str | None) -> str:
    if version != CONSENT_VERSION:
        raise ContractRuleError("签约协议已更新，请阅读最新版本后再确认", "consent_version_outdated")
    return version


def paper_consent(form_no: str | None, version: str | None, witness: str) -> Consent:
    """A desk contract: the signed paper form's number, read off the form."""
    number = (form_no or "").strip().upper()
    if not number:
        raise ContractRuleError("窗口签约须填写居民签字的纸质协议编号", "paper_form_required")
    if not _FORM_NO.fullmatch(number):
        raise ContractRuleError("纸质协议编号应为4到32位字母、数字或短横线", "invalid_form_no")
    return Consent("paper", _check_version(version), witness=witness, form_no=number)


def app_consent(version: str | None, confirmed_by: str, witness: str | None = None) -> Consent:
    return Consent("app", _check_version(version), witness=witness, confirmed_by=confirmed_by)


def check_contract_years(years: int) -> None:
    if years not in CONTRACT_YEARS:
        raise ContractRuleError(f"签约期限只能是1年、2年或3年（收到 {years} 年）", "invalid_contract_years")


def contract_term(start: date, years: int) -> tuple[date, date]:
    """A contract of `years` from `start` ends the day before the anniversary."""
    check_contract_years(years)
    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        anniversary = date(start.year + years, 3, 1)
    return start, anniversary - timedelta(days=1)


def renewal_reminder_day(end: date) -> date:
    return end - timedelta(days=RENEWAL_NOTICE_DAYS)


def prescription_refill(start: date, weeks: int) -> date:
    """Long prescriptions run 4-12 weeks; the next refill is due when they run out."""
    lo, hi = PRESCRIPTION_WEEKS
    if not isinstance(weeks, int) or not lo <= weeks <= hi:
        raise ContractRuleError(f"长处方用药周期应为{lo}到{hi}周（收到 {weeks} 周）", "invalid_prescription_weeks")
    return start + timedelta(weeks=weeks)


@dataclass(frozen=True)
class Screening:
    suspected_hypertension: bool
    suspected_diabetes: bool
    abnormal_heart_rate: bool

    @property
    def flags(self) -> list[str]:
        return [name for name, on in (("suspected_hypertension", self.suspected_hypertension),
                                      ("suspected_diabetes", self.suspected_diabetes),
                                      ("abnormal_heart_rate", self.abnormal_heart_rate)) if on]


def screen_health_check(systolic: int, diastolic: int, fasting_glucose: float,
                        heart_rate: int) -> Screening:
    """Yearly free check of poor residents: BP ≥140/90, fasting glucose ≥7.0, HR outside 60-100."""
    return Screening(systolic >= 140 or diastolic >= 90, fasting_glucose >= 7.0,
                     heart_rate < 60 or heart_rate > 100)


def hidden_until(outcome: str, today: date) -> date | None:
    if outcome not in CALL_OUTCOMES:
        raise ContractRuleError("通话结果只能是同意来随访、稍后再联系或移出名单", "invalid_call_outcome")
    days = CALL_OUTCOMES[outcome][1]
    return None if days is None else today + timedelta(days=days)


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)

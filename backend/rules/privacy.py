"""Privacy notice and consent versions, and what a withdrawal stops (pure; PIPL arts. 13-17, 28-29)."""
from __future__ import annotations

__all__ = ["PRIVACY_VERSION", "TERMS_VERSION", "PURPOSES", "WITHDRAWAL_STOPS", "KEEPS"]

# Bump when the text of the notice changes: everyone is asked again at their next login.
PRIVACY_VERSION = "2026-12-01"
TERMS_VERSION = "2026-12-01"

# The separate consent (art. 29) covers the processing of health data for these purposes.
PURPOSES = (
    "预约门诊、检查和疫苗接种，并把预约信息提供给接诊的医疗机构",
    "家庭医生签约服务、慢病随访、老年人健康管理",
    "转诊时把必要的病情信息提供给上级医院",
    "发送就诊、停诊、候补、随访、接种提醒（站内消息、手机推送、短信）",
)

# What withdrawing stops, said on the page before the person confirms.
WITHDRAWAL_STOPS = (
    "不能再在线预约、候补或代家人预约",
    "不能在手机上查看健康档案、随访和签约信息",
    "不再发送与健康有关的提醒（站内消息保留，推送和短信停止）",
    "尚未就诊的预约将被取消，号源退回",
)

# What the law requires us to keep anyway (art. 47 and the health-record rules).
KEEPS = "撤回同意不影响撤回前已进行的处理。卫生院依法保存的健康档案和诊疗记录不会因此删除，家庭医生仍会按国家基本公共卫生服务规范提供线下服务。"

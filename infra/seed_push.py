"""Demo notices: the demo resident's inbox has a few notices to read (deterministic)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["seed_extra"]

DEMO_NOTICES = [
    ("appointment_reminder", "明天09:30门诊提醒",
     "您预约了明天09:30在乌兰镇卫生院全科门诊就诊，请带好身份证，提前15分钟到达。", "/booking"),
    ("followup_due", "高血压随访提醒",
     "您的父亲本季度的高血压面对面随访已到期，家庭医生会与您联系，也可直接到卫生院。", "/my-doctor"),
    ("vaccine_due", "流感疫苗接种提醒", "65岁及以上老人可到乡镇卫生院预防接种门诊接种流感疫苗。", "/vaccination"),
]


def seed_extra(county) -> None:
    from backend.models.notices import Delivery, Notice
    from backend.services.notify import resident_recipient

    recipient = resident_recipient(county.demo_resident["resident_id"])
    base = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)
    with Notice.batch_write() as batch:
        for i, (kind, title, body, url) in enumerate(DEMO_NOTICES):
            at = base + timedelta(hours=i)
            # Fixed ids (ULID-shaped, sortable): re-seeding overwrites instead of adding.
            batch.save(Notice(recipient, f"01KDEMO00000000000000000{i:02d}", kind=kind,
                              title=title, body=body, url=url, urgent="0", created_at=at,
                              read_at=at if i == 2 else None,
                              deliveries=[Delivery(channel="inbox", status="delivered", at=at)]))

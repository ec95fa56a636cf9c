"""The demo county (modelled on a banner in Inner Mongolia; every name and person made up).

    python -m infra.seed [--residents 3000] [--force]

Deterministic: the same arguments give the same people, identity numbers and phones.
Runs once (a marker item says it ran); tests and benchmarks call `seed(n)` at any size.
"""
from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from backend.rules.identity import check_character

__all__ = ["seed", "DemoCounty", "DEMO_PASSWORD", "REGION_CODE", "make_id_number", "plan"]

REGION_CODE = "150823"
DEMO_PASSWORD = "Demo-2026-county"
TODAY = date(2026, 11, 25)  # fixed, so ages (and so the plan) are the same on every machine
COUNTY_ID = "cty-01"
HOSPITAL_ID = "hosp-01"

TOWNSHIPS = [
    ("twp-01", "乌兰镇卫生院", 8), ("twp-02", "白音塔拉镇卫生院", 7),
    ("twp-03", "新安镇卫生院", 6), ("twp-04", "苏独仑镇卫生院", 5),
    ("twp-05", "额尔登布拉格苏木卫生院", 4), ("twp-06", "明安镇卫生院", 6),
    ("com-01", "城关社区卫生服务中心", 4),
]
HOSPITAL_DEPARTMENTS = ["内科", "外科", "妇产科", "儿科", "中蒙医科", "眼耳鼻喉科"]
EXAMS = ["超声", "CT", "核磁共振", "胃镜", "肠镜"]
CENTRE_DEPARTMENTS = ["全科门诊", "预防接种门诊", "慢病门诊"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅燕鹏飞鑫宇浩凯琳雪莉晨阳建国志强海龙文斌巴特尔其其格乌云苏日娜图雅额尔敦宝音"
VILLAGE_WORDS = "东西南北新红光明胜利团结和平永丰长青富民兴隆"
VILLAGE_SUFFIX = ["村", "嘎查"]


def make_id_number(birth: date, seq: int, male: bool) -> str:
    """A valid 18-character identity number in the demo region."""
    order = seq % 500 * 2 + (1 if male else 0)  # 17th digit: odd for men, even for women
    first17 = f"{REGION_CODE}{birth:%Y%m%d}{order:03d}"
    return first17 + check_character(first17)


@dataclass
class DemoCounty:
    facilities: list[dict] = field(default_factory=list)
    teams: list[dict] = field(default_factory=list)
    residents: list[dict] = field(default_factory=list)
    grants: list[dict] = field(default_factory=list)
    staff: list[dict] = field(default_factory=list)
    slots_from: date | None = None   # the first day of generated demo slots (local date)

    @property
    def demo_resident(self) -> dict:
        return self.residents[0]


def _age_years(rng: random.Random) -> int:
    """A rural age mix: about 15 % aged 65+, few young adults (they work in town)."""
    r = rng.random()
    if r < 0.15:
        return rng.randint(65, 92)
    if r < 0.27:
        return rng.randint(0, 14)
    if r < 0.45:
        return rng.randint(15, 34)
    return rng.randint(35, 64)


def _birth(rng: random.Random, age: int) -> date:
    return TODAY - timedelta(days=age * 365 + rng.randint(0, 364))


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def plan(residents: int = 3000, seed_value: int = 20231008) -> DemoCounty:
    """Everything to write, as plain dicts, without touching the database."""
    rng = random.Random(seed_value)
    county = DemoCounty()
    county.facilities.append({"facility_id": COUNTY_ID, "kind": "county", "name": "白云前旗卫生健康委员会",
                              "parent_id": "root", "county_id": COUNTY_ID, "departments": []})
    county.facilities.append({"facility_id": HOSPITAL_ID, "kind": "hospital", "name": "白云前旗人民医院",
                              "parent_id": COUNTY_ID, "county_id": COUNTY_ID,
                              "departments": HOSPITAL_DEPARTMENTS + EXAMS})
    villages: list[tuple[str, str]] = []  # (village_id, township_id)
    team_of_township: dict[str, list[str]] = {}
    team_no = 0
    for t_index, (tid, tname, n_villages) in enumerate(TOWNSHIPS):
        kind = "community" if tid.startswith("com") else "township"
        county.facilities.append({"facility_id": tid, "kind": kind, "name": tname,
                                  "parent_id": COUNTY_ID, "county_id": COUNTY_ID,
                                  "departments": CENTRE_DEPARTMENTS})
        for v in range(1, n_villages + 1):
            vid = f"vil-{tid}-{v:02d}"
            vname = rng.choice(VILLAGE_WORDS) + rng.choice(VILLAGE_WORDS) + rng.choice(VILLAGE_SUFFIX)
            county.facilities.append({"facility_id": vid, "kind": "village", "name": f"{vname}卫生室",
                                      "parent_id": tid, "county_id": COUNTY_ID,
                                      "mobile_clinic": v == n_villages and t_index % 2 == 0,
                                      "departments": []})
            villages.append((vid, tid))
        # 10 teams over 7 centres: the three largest centres get two.
        for _ in range(2 if t_index < 3 else 1):
            team_no += 1
            team_id = f"team-{team_no:02d}"
            team_of_township.setdefault(tid, []).append(team_id)
            members = []
            for role, title in (("gp", "主治医师" if team_no % 2 else "医师"), ("nurse", "护师"),
                                ("public_health", "医师"), ("village_doctor", "乡村医生")):
                login = f"doctor{team_no:02d}" if role == "gp" else f"{role}{team_no:02d}"
                name = _name(rng)
                members.append({"login": f"s:{login}", "name": name, "role": role,
                                "phone": f"1380478{team_no:02d}{len(members):02d}", "title": title})
                county.staff.append({"username": login, "role": "doctor", "name": name,
                                     "facility_id": tid, "team_id": team_id, "title": title})
            county.teams.append({"team_id": team_id, "facility_id": tid,
                                 "name": f"{tname.replace('卫生院', '').replace('社区卫生服务中心', '')}家庭医生{team_no}队",
                                 "members": members,
                                 # Landlines of the centre: the numbers residents are given.
                                 "service_phones": [
                                     {"label": "团队服务电话", "number": f"0478-52{team_no:02d}120",
                                      "hours": "周一至周五 8:00-17:30"},
                                     {"label": "卫生院24小时值班电话",
                                      "number": f"0478-52{t_index + 1:02d}000", "hours": None}]})
        county.staff.append({"username": f"admin-{tid}", "role": "township_admin",
                             "name": f"{tname}管理员", "facility_id": tid})
    county.staff.append({"username": "admin-hospital", "role": "hospital_admin",
                         "name": "人民医院管理员", "facility_id": HOSPITAL_ID})
    county.staff.append({"username": "county", "role": "county", "name": "旗卫健委",
                         "facility_id": COUNTY_ID})

    # Residents in households; adults 18+ with a phone own an account on it.
    index = 0
    household_no = 0
    used_ids: set[str] = set()
    while index < residents:
        household_no += 1
        hid = f"hh-{household_no:05d}"
        vid, tid = villages[household_no % len(villages)]
        team_id = team_of_township[tid][household_no % len(team_of_township[tid])]
        contracted = rng.random() < 0.62
        size = min(rng.choice((1, 2, 2, 3, 3, 4, 5)), residents - index)
        members = []
        for m in range(size):
            index += 1
            # The first resident is the demo account holder (45), with a parent of 78.
            age = 45 if index == 1 else 78 if index == 2 else _age_years(rng)
            male = rng.random() < 0.5
            born = _birth(rng, age)
            seq = index
            while (id_number := make_id_number(born, seq, male)) in used_ids:
                seq += 1
            used_ids.add(id_number)
            conditions = []
            if age >= 35 and rng.random() < (0.25 if age < 65 else 0.4):
                conditions.append("hypertension")
            if age >= 35 and rng.random() < 0.1:
                conditions.append("diabetes")
            is_priority = age >= 65 or conditions
            resident = {
                "resident_id": f"res-{index:06d}",
                "id_number": id_number,
                "name": _name(rng), "sex": "M" if male else "F",
                "birth_date": born.isoformat(),
                "phone": f"139{index:08d}" if age >= 18 else None,
                "household_id": hid, "village_id": vid, "township_id": tid,
                "team_id": team_id if (contracted or (is_priority and rng.random() < 0.9)) else None,
                "conditions": set(conditions),
                "poor": rng.random() < 0.06,
            }
            members.append(resident)
            county.residents.append(resident)
        # An adult child may act for the elderly members of the household.
        adults = [r for r in members if r["phone"] and TODAY.year - int(r["birth_date"][:4]) < 65]
        elders = [r for r in members if TODAY.year - int(r["birth_date"][:4]) >= 65]
        if adults:
            for elder in elders:
                county.grants.append({"proxy_id": adults[0]["resident_id"],
                                      "subject_id": elder["resident_id"], "relation": "子女"})
    # The demo pair always lives together: res-000001 acts for res-000002.
    first, second = county.residents[0], county.residents[min(1, len(county.residents) - 1)]
    if second is not first:
        second["household_id"] = first["household_id"]
        if not any(g["proxy_id"] == first["resident_id"] and g["subject_id"] == second["resident_id"]
                   for g in county.grants):
            county.grants.append({"proxy_id": first["resident_id"],
                                  "subject_id": second["resident_id"], "relation": "子女"})
    return county


def seed(residents: int = 3000, *, force: bool = False, seed_value: int = 20231008) -> DemoCounty | None:
    """Write the demo county through PynamoDB (batch writes); once unless `force`."""
    from backend.models.account import Account
    from backend.models.base import utcnow
    from backend.models.facility import Facility, ServicePhone, Team, TeamMember, TeamMembership
    from backend.models.ops import TaskRun
    from backend.models.people import ProxyGrant, Resident, Uniqueness
    from backend.services.auth import hash_password, resident_login_name, staff_login_name
    from backend.services.residents import id_number_claim

    marker = f"seed:{residents}:{seed_value}"
    if not force:
        try:
            TaskRun.get(marker)
            return None
        except TaskRun.DoesNotExist:
            pass
    county = plan(residents, seed_value)
    now = utcnow()
    password_hash = hash_password(DEMO_PASSWORD)
    with Facility.batch_write() as batch:
        for f in county.facilities:
            batch.save(Facility(**f))
    with Team.batch_write() as batch, TeamMembership.batch_write() as memberships:
        for t in county.teams:
            batch.save(Team(t["team_id"], facility_id=t["facility_id"], name=t["name"],
                            members=[TeamMember(**m) for m in t["members"]],
                            service_phones=[ServicePhone(**p) for p in t["service_phones"]]))
            for m in t["members"]:
                memberships.save(TeamMembership(m["login"], team_id=t["team_id"],
                                                facility_id=t["facility_id"]))
    with Resident.batch_write() as batch:
        for r in county.residents:
            batch.save(Resident(created_at=now, **r))
    with Uniqueness.batch_write() as batch:
        for r in county.residents:
            batch.save(Uniqueness(id_number_claim(r["id_number"]), owner=r["resident_id"]))
    with Account.batch_write() as batch:
        for r in county.residents:
            if r["phone"]:
                batch.save(Account(resident_login_name(r["phone"]), role="resident",
                                   display_name=r["name"], resident_id=r["resident_id"],
                                   created_at=now))
        for s in county.staff:
            batch.save(Account(staff_login_name(s["username"]), role=s["role"],
                               display_name=s["name"], facility_id=s.get("facility_id"),
                               title=s.get("title"),
                               password_hash=password_hash, created_at=now))
    with ProxyGrant.batch_write() as batch:
        for g in county.grants:
            batch.save(ProxyGrant(granted_at=now, **g))
    # Each capability seeds its own demo data in infra/seed_<area>.py: `seed_extra(county)`.
    import importlib
    import pkgutil

    import infra
    for info in sorted(pkgutil.iter_modules(infra.__path__), key=lambda i: i.name):
        if info.name.startswith("seed_"):
            importlib.import_module(f"infra.{info.name}").seed_extra(county)
    TaskRun(marker, last_run=now, ok=1, runs=1, summary=f"{len(county.residents)} residents").save()
    return county


def describe_accounts(county: DemoCounty) -> str:
    demo = county.demo_resident
    lines = ["演示账号 / demo accounts:",
             f"  居民 resident: 手机号 {demo['phone']}（{demo['name']}，可代办其父母），验证码打印在此控制台",
             f"  员工 staff (密码 password {DEMO_PASSWORD}):"]
    for s in county.staff:
        if s["role"] != "doctor" or s["username"].startswith("doctor"):
            lines.append(f"    {s['username']:<16} {s['role']:<15} {s['name']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Seed the demo county")
    parser.add_argument("--residents", type=int, default=3000)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    from backend import create_app
    from infra.tables import create_all, create_buckets
    app = create_app()
    create_all()
    if app.config["COUNTYCARE"].s3_endpoint:
        create_buckets(app.config["COUNTYCARE"])
    county = seed(args.residents, force=args.force)
    if county is None:
        print("demo county already seeded")
        county = plan(args.residents)
    else:
        print(f"seeded demo county: {len(county.residents)} residents, "
              f"{len(county.facilities)} facilities, {len(county.teams)} teams")
    print(describe_accounts(county))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

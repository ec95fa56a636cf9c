"""Family-doctor teams: who is a member now (what a doctor's access follows), keeping the
members, and what each kind of user may see of a team."""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.errors import Conflict, Forbidden, NotFound
from backend.models.base import failed_items, transaction
from backend.models.facility import Team, TeamMember, TeamMembership

__all__ = ["membership_of", "set_team_members", "get_team", "visible_team", "MAX_MEMBERS"]

MAX_MEMBERS = 30  # 1 team update + a put or delete per member: well within a transaction


def get_team(team_id: str) -> Team:
    if not team_id or len(team_id) > 64:
        raise NotFound("找不到该家庭医生团队", code="team_not_found")
    try:
        return Team.get(team_id)
    except DoesNotExist:
        raise NotFound("找不到该家庭医生团队", code="team_not_found") from None


def membership_of(login: str) -> TeamMembership | None:
    """The team a staff member belongs to now (one GetItem), or None."""
    try:
        return TeamMembership.get(login)
    except DoesNotExist:
        return None


def set_team_members(user, team_id: str, members: list[dict]) -> Team:
    """A centre's admin replaces the team's members; memberships move in the same transaction.

    Someone who is a member of another team must be removed there first (one team each).
    """
    team = get_team(team_id)
    if user.role != "township_admin" or user.facility_id != team.facility_id:
        raise Forbidden("只有本中心管理员可以调整团队成员")
    new = {m["login"]: m for m in members}
    old = {m.login for m in team.members}
    revision = int(team.revision or 0)
    added = [login for login in new if login not in old]
    removed = [login for login in old if login not in new]
    try:
        with transaction() as tx:
            for login in removed:
                tx.delete(TeamMembership(login), condition=TeamMembership.team_id == team_id)
            for login in added:
                tx.save(TeamMembership(login, team_id=team_id, facility_id=team.facility_id),
                        condition=TeamMembership.login.does_not_exist())
            tx.update(Team(team_id), actions=[
                Team.members.set([TeamMember(**m) for m in new.values()]),
                Team.revision.set(revision + 1)],
                condition=(Team.revision == revision) if team.revision is not None
                else Team.revision.does_not_exist())
    except TransactWriteError as err:
        failed = failed_items(err)
        if not failed:
            raise
        # PynamoDB's order: deletes, then saves, then updates.
        saves = range(len(removed), len(removed) + len(added))
        taken = [added[i - len(removed)] for i in failed if i in saves]
        if taken:
            names = "、".join(new[login]["name"] for login in taken)
            raise Conflict(f"{names}已是其他团队的成员，请先从原团队移除",
                           code="member_of_another_team") from None
        raise Conflict("团队成员已被他人修改，请刷新后重试") from None
    return get_team(team_id)


def visible_team(user, team_id: str) -> tuple[Team, bool]:
    """The team, and whether members' personal mobiles may be shown.

    Residents see only the team they (or someone they act for) are contracted to, with the
    team's service phones; staff of the team's centre and its own members see the members'
    numbers. Anyone else: "not found or not permitted", the same as an unknown team.
    """
    from backend.services.residents import people_i_act_for
    hidden = NotFound("找不到该家庭医生团队，或您无权查看", code="team_not_found")
    if user.role == "resident":
        if not any(p.team_id == team_id for p in people_i_act_for(user)):
            raise hidden
        return get_team(team_id), False
    team = get_team(team_id)
    if user.role == "doctor" and user.team_id == team_id:
        return team, True
    if user.role == "township_admin" and user.facility_id == team.facility_id:
        return team, True
    raise hidden

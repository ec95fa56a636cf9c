"""The per-team change feed phones download by: stamp a write, read a page after a cursor.

Every write that changes what a team's phones hold calls `stamp(tx, team_id, ids)` inside
its own transaction: the team's head sequence moves from n to n+1 on the condition that it
is still n, and the row `seq#n+1` names the residents. Two writes of one team at the same
moment cannot both claim n+1 (one transaction is cancelled and retried by its caller), and
a number is never visible without its write, so a phone that has seen `seq <= n` has seen
every change up to n. Timestamps are never used: two writes in the same millisecond, or a
clock that steps back, would lose a record for a phone whose cursor sat between them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pynamodb.exceptions import DoesNotExist

from backend.models.sync import HEAD, SEQ_PREFIX, SyncLog

__all__ = ["stamp", "head", "changes_after", "Changes", "seq_key", "compact", "backfill"]

SEQ_END = SEQ_PREFIX + "~"


def seq_key(seq: int) -> str:
    return f"{SEQ_PREFIX}{seq:012d}"


def head(team_id: str) -> int:
    """The team's last sequence number (strongly consistent; 0 before any change)."""
    try:
        return int(SyncLog.get(team_id, HEAD, consistent_read=True).seq or 0)
    except DoesNotExist:
        return 0


def stamp(tx, team_id: str | None, resident_ids, what: str) -> int | None:
    """Claim the team's next sequence number for this write, inside the write's transaction.

    Returns the number claimed (None when there is no team: nothing on a phone changes).
    """
    ids = sorted({r for r in resident_ids if r})
    if not team_id or not ids:
        return None
    current = head(team_id)
    condition = SyncLog.seq == current if current else SyncLog.seq.does_not_exist()
    tx.update(SyncLog(team_id, HEAD), actions=[SyncLog.seq.set(current + 1)], condition=condition)
    tx.save(SyncLog(team_id, seq_key(current + 1), residents=ids, what=what),
            condition=SyncLog.entry.does_not_exist())
    return current + 1


def stamp_many(tx, stamps: dict[str, list[str]], what: str) -> None:
    """`stamp` for writes that touch residents of several teams (a contract moving teams)."""
    for team_id, ids in sorted(stamps.items()):
        stamp(tx, team_id, ids, what)


@dataclass
class Changes:
    after: int
    head: int
    resident_ids: list[str] = field(default_factory=list)  # in first-seen order
    next_after: int = 0
    more: bool = False


def changes_after(team_id: str, after: int, *, limit: int = 200) -> Changes:
    """The residents changed after `after`, one page of at most `limit` log rows.

    Strongly consistent Query on the base table (never a lagging index): every row up to
    the last one returned is committed, so `next_after` can be stored as the cursor.
    """
    top = head(team_id)
    out = Changes(after=after, head=top, next_after=after)
    if after >= top:
        return out
    seen: set[str] = set()
    rows = SyncLog.query(team_id, SyncLog.entry.between(seq_key(after + 1), SEQ_END),
                         consistent_read=True, limit=limit, page_size=limit)
    for row in rows:
        out.next_after = int(row.entry[len(SEQ_PREFIX):])
        for rid in row.residents or []:
            if rid not in seen:
                seen.add(rid)
                out.resident_ids.append(rid)
    out.more = out.next_after < top
    return out


def compact(team_id: str) -> int:
    """Delete rows whose every resident appears in a later row (offline task, not a request).

    A phone past the deleted row loses nothing; a phone before it gets the residents from
    the later row. Keeps the first sync of a long-lived team about one row per resident.
    """
    rows = list(SyncLog.query(team_id, SyncLog.entry.between(seq_key(1), SEQ_END),
                              consistent_read=True))
    later: set[str] = set()
    doomed = []
    for row in reversed(rows):
        ids = set(row.residents or [])
        if ids and ids <= later:
            doomed.append(row)
        later |= ids
    with SyncLog.batch_write() as batch:
        for row in doomed:
            batch.delete(row)
    return len(doomed)


def backfill(team_id: str, resident_ids: list[str], what: str = "roster") -> int:
    """Write a team's roster into its log once (seed data and teams created before sync).

    Offline tool: batch writes, no transaction; run before any phone syncs.
    """
    start = head(team_id)
    seq = start
    with SyncLog.batch_write() as batch:
        for rid in resident_ids:  # one row each: a page of rows is a page of residents
            seq += 1
            batch.save(SyncLog(team_id, seq_key(seq), residents=[rid], what=what))
    SyncLog(team_id, HEAD, seq=seq).save()
    return seq - start

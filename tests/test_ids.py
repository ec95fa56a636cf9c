"""Ids are ULIDs: 26 Crockford characters, sortable by creation time, unique."""
import time

from ulid import ULID

from backend.models.base import new_id


def test_new_ids_are_valid_ulids_in_time_order():
    first = new_id()
    time.sleep(0.002)
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(len(i) == 26 for i in ids)
    assert first < min(ids)
    parsed = ULID.from_str(ids[0])  # the reference implementation reads ours
    assert abs(parsed.timestamp - time.time()) < 5

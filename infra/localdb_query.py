"""Make moto's Query read only its partition, as DynamoDB does.

moto 5.2's `Table.query` on a table's own key builds a sorted list of every item in the
table and then keeps those of the queried partition: a Query costs the size of the table,
not of its item collection. Tests and benchmarks share one server, so every Query grows
slower as the suite writes (30,000 search terms made one search ~200 ms). Here a Query on
a table with a sort key, not on an index, sees its own partition only; moto still applies
the key condition, filter, order, limit and paging. The local server runs every request
under one lock (infra.localdb.SerialApp), so the per-call override cannot leak across
requests; a thread-local keeps it exact anyway.
"""
from __future__ import annotations

import inspect
import threading

__all__ = ["install"]

_state = threading.local()
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb.models.table import Table

    query, all_items = Table.query, Table.all_items
    signature = inspect.signature(query)

    def partition_query(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs).arguments
        hash_key = bound.get("hash_key")
        if hash_key is None or bound.get("index_name") or not self.range_key_attr:
            return query(self, *args, **kwargs)
        _state.partition = (self, hash_key)
        try:
            return query(self, *args, **kwargs)
        finally:
            _state.partition = None

    def partition_items(self):
        current = getattr(_state, "partition", None)
        if current is None or current[0] is not self:
            return all_items(self)
        # .get: moto's items is a defaultdict, and a read must not create a partition.
        items = self.items.get(current[1]) or {}
        return sorted(items.values(), key=lambda item: item.range_key)

    Table.query, Table.all_items = partition_query, partition_items
    _installed = True

"""Incremental sync: a per-user change feed with monotonic sequence numbers and tombstones."""

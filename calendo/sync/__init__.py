"""The incremental-sync feed, a write port below events: a per-user change feed with monotonic
sequence numbers and tombstones. Reading it is ``events.sync``."""

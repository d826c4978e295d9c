"""Events: the core domain. CRUD, RFC 5545 recurrence in the event's zone, listing, conflicts,
batches, caching; the one access check (``access``), sharing (``sharing``), the history use
cases (``versions``: versions, diffs, rollback) and the sync reads (``sync``). Every write of
an event goes through ``service`` and appends the rows of the write ports below it: history's
version rows, audit rows, sync-feed rows and notifications."""

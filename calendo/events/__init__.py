"""Events: CRUD, RFC 5545 recurrence in the event's zone, listing, conflicts, batches, caching."""

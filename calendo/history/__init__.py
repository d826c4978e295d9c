"""History, below events: the append-only version store (``models``, ``recording``, ``store``)
and the pure diff, merge, summary and HTML modules. The use cases that read it (versions,
changelog, diffs, rollback) are ``events.versions``."""

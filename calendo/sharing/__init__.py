"""Sharing, below events: the permission table (with its database triggers), the role policy
and the share bodies. The access check is ``events.access``; the share use cases are
``events.sharing``."""

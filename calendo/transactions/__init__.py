"""Atomic transactions: up to 100 create/update/delete/share operations, all or nothing."""

"""Notifications: one row per recipient written in the change's transaction, read and marked
over REST, and pushed live over a WebSocket through the broker after commit."""

"""Sharing: roles on events, the one access check every event read and write goes through."""

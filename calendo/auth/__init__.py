"""Accounts, logins, tokens: register, login, refresh with rotation, logout, user search."""

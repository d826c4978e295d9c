"""Calendo: collaborative event management with full history and live notifications."""

__version__ = "0.1.0"

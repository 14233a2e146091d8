"""Courtyard: a self-hostable super-app whose operator cannot read your messages."""

__version__ = "0.1.0"

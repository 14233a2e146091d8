"""Alembic environment and versions; run through ``courtyard.db.migrate``."""

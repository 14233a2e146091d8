"""legal domain (docs/privacy.md)."""

"""Courtyard's benchmark harness: real server processes on loopback, bounded runs, JSON out."""

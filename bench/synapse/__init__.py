"""Synapse, the Matrix homeserver, run by the harness with Courtyard's workload shapes."""

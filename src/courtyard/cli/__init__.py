"""The ``courtyard`` command: server, operator and client verbs."""

"""The sandbox payment provider: a separate small ASGI app the wallet talks to over HTTP.

``courtyard.sandbox.app.create_sandbox_app`` builds the service, ``courtyard.sandbox.client``
is a typed client for it, and ``courtyard.sandbox.signing`` documents the callback signature.
It imports ``courtyard.core`` only (an import-linter contract says so).
"""

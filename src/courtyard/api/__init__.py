"""The HTTP and WebSocket API: app factory, routers, dependencies and ASGI middleware."""

from courtyard.api.app import create_app

__all__ = ["create_app"]

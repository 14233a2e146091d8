"""The device app: a local web UI for one profile, served on 127.0.0.1 only."""

from courtyard.app.web import DeviceApp, bind, create_device_app, quiet_sdk_logs, serve

__all__ = ["DeviceApp", "bind", "create_device_app", "quiet_sdk_logs", "serve"]

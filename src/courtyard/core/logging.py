"""Structured logs that never carry secrets: one JSON object a line, with a redaction filter."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

# Keys whose values are never written, wherever they appear in a log record's extras.
SECRET_KEYS = frozenset(
    {
        "password",
        "new_password",
        "current_password",
        "token",
        "access_token",
        "authorization",
        "cookie",
        "secret",
        "passphrase",
        "pin",
    }
)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
# Record attributes that are not extras (uvicorn adds an ANSI-coloured copy of its message).
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


def redact(value: Any) -> Any:
    """Return ``value`` with secret-looking keys and bearer tokens replaced."""
    if isinstance(value, dict):
        return {
            key: "[redacted]" if str(key).lower() in SECRET_KEYS else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return _BEARER.sub(r"\1[redacted]", value)
    return value


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = "[redacted]" if key.lower() in SECRET_KEYS else redact(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A human-readable single line, still redacted."""

    def format(self, record: logging.LogRecord) -> str:
        extras = {
            key: value
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        }
        base = f"{record.levelname:<7} {record.name}: {redact(record.getMessage())}"
        if extras:
            base += " " + " ".join(f"{k}={v}" for k, v in redact(extras).items())
        return base


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send all logs to stderr in the chosen format; quiet uvicorn's own access log."""
    import time

    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our access log (courtyard.access) replaces uvicorn's, which would print query strings.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True

"""UUIDv7 ids and the log redaction that keeps secrets out of logs."""

from __future__ import annotations

import json
import logging
import uuid

from courtyard.core.ids import is_id, new_id
from courtyard.core.logging import JsonFormatter, redact


def test_ids_are_uuid7_and_sort_in_creation_order() -> None:
    ids = [new_id() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert all(is_id(i) for i in ids[:10])
    assert not is_id("1")
    assert not is_id("' OR 1=1")


def test_redact_hides_secret_keys_and_bearer_tokens() -> None:
    data = {
        "username": "alice",
        "password": "hunter2hunter2",
        "nested": {"access_token": "cyt_x"},
        "header": "Bearer cyt_abcdef",
    }
    assert redact(data) == {
        "username": "alice",
        "password": "[redacted]",
        "nested": {"access_token": "[redacted]"},
        "header": "Bearer [redacted]",
    }


def test_json_formatter_redacts_extras_and_messages() -> None:
    record = logging.makeLogRecord(
        {
            "name": "t",
            "levelno": 20,
            "levelname": "INFO",
            "msg": "auth Bearer cyt_secret1",
            "password": "p4ssw0rd!!",
            "route": "/v1/sessions",
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["password"] == "[redacted]"
    assert "cyt_secret1" not in json.dumps(line)
    assert line["route"] == "/v1/sessions"

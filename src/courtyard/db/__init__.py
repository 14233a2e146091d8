"""Engine and session factory, declarative base and column types for SQLite and PostgreSQL."""

from courtyard.db.base import Base
from courtyard.db.database import Database, Tx, json_dumps
from courtyard.db.types import JSONObject, UTCDateTime

__all__ = ["Base", "Database", "JSONObject", "Tx", "UTCDateTime", "json_dumps"]

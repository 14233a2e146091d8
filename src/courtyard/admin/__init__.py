"""The operator console: server-rendered HTML pages on top of domain services."""

from courtyard.admin.console import PAGES, create_console
from courtyard.admin.services import ConsoleServices

__all__ = ["PAGES", "ConsoleServices", "create_console"]

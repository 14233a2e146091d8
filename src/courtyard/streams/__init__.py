"""Per-user streams: facts with monotonically increasing positions, and the bus that hints."""

from courtyard.streams.bus import Bus, MemoryBus, create_bus
from courtyard.streams.events import StreamEvent, StreamHead
from courtyard.streams.notifier import StreamNotifier, Waiter
from courtyard.streams.store import StreamStore
from courtyard.streams.sync import SyncBatch, SyncService

__all__ = [
    "Bus",
    "MemoryBus",
    "StreamEvent",
    "StreamHead",
    "StreamNotifier",
    "StreamStore",
    "SyncBatch",
    "SyncService",
    "Waiter",
    "create_bus",
]

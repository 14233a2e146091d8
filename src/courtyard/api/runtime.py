"""Everything one server node holds: settings, database, bus, services, metrics, jobs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from courtyard.api.metrics import Metrics
from courtyard.core.clock import Clock, SystemClock
from courtyard.core.config import Settings
from courtyard.db import Database
from courtyard.domains.accounts import (
    AccountsService,
    Hasher,
    LoginThrottle,
    OperatorsService,
    ThrottleLimits,
)
from courtyard.domains.keys import KeysService
from courtyard.domains.media import FileBlobStore, MediaService
from courtyard.domains.messaging import ConversationsService, MessagesService, Timeline
from courtyard.domains.todevice import ToDeviceService
from courtyard.streams import Bus, StreamNotifier, StreamStore, SyncService, create_bus
from courtyard.streams.bus import close_quietly
from courtyard.workers.periodic import Job, PeriodicJobs

PURGE_EVERY_SECONDS = 300.0


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    db: Database
    bus: Bus
    notifier: StreamNotifier
    streams: StreamStore
    accounts: AccountsService
    operators: OperatorsService
    sync: SyncService
    to_device: ToDeviceService
    conversations: ConversationsService
    messages: MessagesService
    keys: KeysService
    media: MediaService
    metrics: Metrics
    jobs: PeriodicJobs = field(default_factory=lambda: PeriodicJobs([]))
    started: bool = False

    @classmethod
    def build(
        cls, settings: Settings, clock: Clock | None = None, bus: Bus | None = None
    ) -> Runtime:
        clock = clock or SystemClock()
        db = Database(settings.database_url, pool_size=settings.db_pool_size)
        bus = bus or create_bus(settings.bus_url)
        streams = StreamStore(bus, clock)
        hasher = Hasher()
        throttle = LoginThrottle(
            db,
            clock,
            ThrottleLimits(
                window=dt.timedelta(seconds=settings.login_window_seconds),
                per_account=settings.login_max_failures_per_account,
                per_address=settings.login_max_failures_per_address,
            ),
        )
        notifier = StreamNotifier(bus)
        timeline = Timeline(streams, clock)
        runtime = cls(
            settings=settings,
            clock=clock,
            db=db,
            bus=bus,
            notifier=notifier,
            streams=streams,
            accounts=AccountsService(db, streams, clock, hasher, throttle),
            operators=OperatorsService(db, clock, hasher),
            sync=SyncService(db, notifier, settings.sync_recheck_seconds),
            to_device=ToDeviceService(db, streams, clock),
            conversations=ConversationsService(db, timeline, clock),
            messages=MessagesService(db, timeline, streams, clock),
            keys=KeysService(db, streams, clock),
            media=MediaService(
                db, FileBlobStore(settings.data_dir / "media"), clock, settings.max_media_bytes
            ),
            metrics=Metrics(),
        )
        runtime.jobs = PeriodicJobs(
            [Job("purge-login-failures", PURGE_EVERY_SECONDS, throttle.purge)]
        )
        return runtime

    async def start(self) -> None:
        """Connect the bus and start background jobs; the schema must already be migrated."""
        if self.started:
            return
        await self.bus.start()
        self.jobs.start()
        self.started = True

    async def stop(self) -> None:
        if not self.started:
            return
        await self.jobs.stop()
        await self.messages.queue.close()  # queued sends get their answers before the end
        await self.accounts.last_seen.close()
        await close_quietly(self.bus)
        await self.db.dispose()
        self.started = False

"""Everything one server node holds: settings, database, bus, services, metrics, jobs."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from courtyard.api.metrics import Metrics
from courtyard.api.problems import status_for
from courtyard.core.clock import Clock, SystemClock
from courtyard.core.config import Settings
from courtyard.core.errors import ConfigError, CourtyardError
from courtyard.db import Database
from courtyard.domains.accounts import (
    AccountsService,
    Hasher,
    LoginThrottle,
    OperatorSessions,
    OperatorsService,
    ThrottleLimits,
)
from courtyard.domains.audit import AuditKeyring, AuditLog
from courtyard.domains.jobs import DueJobs
from courtyard.domains.keys import KeysService
from courtyard.domains.legal import NOTICE_JOB as LEGAL_NOTICE_JOB
from courtyard.domains.legal import LegalDesk, legal_desk_for
from courtyard.domains.media import FileBlobStore, MediaService
from courtyard.domains.messaging import ConversationsService, MessagesService, Timeline
from courtyard.domains.privacy import ConsentService
from courtyard.domains.privacy.rights import UserRights
from courtyard.domains.todevice import ToDeviceService
from courtyard.domains.wallet import (
    PinPolicy,
    QrKeyring,
    WalletPolicy,
    WalletService,
    load_pepper,
)
from courtyard.domains.wallet.providers import PaymentProvider, SandboxProvider
from courtyard.sandbox.app import create_sandbox_app
from courtyard.streams import Bus, StreamNotifier, StreamStore, SyncService, create_bus
from courtyard.streams.bus import close_quietly
from courtyard.workers.due import DueRunner
from courtyard.workers.periodic import Job, PeriodicJobs

log = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 300.0
SIGN_AUDIT_HEAD_EVERY_SECONDS = 60.0
IN_PROCESS_SANDBOX_URL = "http://sandbox.internal"
IN_PROCESS_SELF_URL = "http://courtyard.internal"
CALLBACK_PATH = "/v1/wallet/providers/sandbox/callbacks"


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    db: Database
    bus: Bus
    notifier: StreamNotifier
    streams: StreamStore
    accounts: AccountsService
    consent: ConsentService
    operators: OperatorsService
    operator_sessions: OperatorSessions
    sync: SyncService
    to_device: ToDeviceService
    conversations: ConversationsService
    messages: MessagesService
    keys: KeysService
    media: MediaService
    metrics: Metrics
    due: DueJobs
    wallet: WalletService
    due_runner: DueRunner
    audit: AuditLog
    legal: LegalDesk
    rights: UserRights
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
        consent = ConsentService(db, clock, streams, hosting_country=settings.hosting_country)
        accounts = AccountsService(db, streams, clock, hasher, throttle, consent=consent)
        metrics = Metrics()
        due = DueJobs(db, clock, on_failed=lambda _job: metrics.due_jobs_failed.inc())
        wallet = build_wallet(
            settings, db, clock, streams, timeline, accounts, hasher, due,
            on_audit_findings=metrics.wallet_audit_findings.set,
        )  # fmt: skip
        rights = UserRights(
            db, clock, accounts=accounts, timeline=timeline, jobs=due,
            blobs=FileBlobStore(settings.data_dir / "media"),
            login_window=dt.timedelta(seconds=settings.login_window_seconds),
            daily_jobs=settings.privacy_daily_jobs,
        )  # fmt: skip
        runtime = cls(
            settings=settings,
            clock=clock,
            db=db,
            bus=bus,
            notifier=notifier,
            streams=streams,
            accounts=accounts,
            consent=consent,
            operators=OperatorsService(db, clock, hasher),
            # The console's sign-ins count in a namespace of their own ("op:").
            operator_sessions=OperatorSessions(
                db, clock, hasher, LoginThrottle(db, clock, throttle.limits, namespace="op:")
            ),
            sync=SyncService(db, notifier, settings.sync_recheck_seconds),
            to_device=ToDeviceService(db, streams, clock),
            conversations=ConversationsService(db, timeline, clock),
            messages=MessagesService(db, timeline, streams, clock),
            keys=KeysService(db, streams, clock),
            media=MediaService(
                db, FileBlobStore(settings.data_dir / "media"), clock, settings.max_media_bytes
            ),
            metrics=metrics,
            due=due,
            wallet=wallet,
            due_runner=DueRunner(due, poll_seconds=settings.due_poll_seconds),
            audit=AuditLog(db, clock, AuditKeyring.from_data_dir(settings.data_dir)),
            legal=legal_desk_for(settings, db, clock),
            rights=rights,
        )
        due.register_local(LEGAL_NOTICE_JOB, runtime.legal.run_notice_job)
        wallet.transfers.queue.on_batch = metrics.wallet_transfer_batch.observe
        runtime.jobs = PeriodicJobs(
            [
                Job("purge-login-failures", PURGE_EVERY_SECONDS, throttle.purge),
                Job("purge-wallet-keys", PURGE_EVERY_SECONDS, wallet.idempotency.purge),
                Job(
                    "purge-operator-sessions",
                    PURGE_EVERY_SECONDS,
                    runtime.operator_sessions.purge,
                ),
                # A periodic job, not a due job: it writes no due_jobs row.
                Job("sign-audit-head", SIGN_AUDIT_HEAD_EVERY_SECONDS, runtime.audit.sign_if_grown),
            ]
        )
        return runtime

    async def start(self) -> None:
        """Connect the bus and start background jobs; the schema must already be migrated."""
        if self.started:
            return
        await self.consent.policies.do_publish_at_start()  # each region's text, if it changed
        await self.bus.start()
        await self.wallet.start()
        await self.rights.start()
        self.jobs.start()
        self.due_runner.start()
        self.started = True

    async def stop(self) -> None:
        if not self.started:
            return
        await self.jobs.stop()
        await self.due_runner.stop()
        await self.wallet.stop()
        await self.messages.queue.close()  # queued sends get their answers before the end
        await self.wallet.transfers.queue.close()  # and queued transfers
        await self.accounts.last_seen.close()
        await close_quietly(self.bus)
        await self.db.dispose()
        self.started = False


def build_wallet(
    settings: Settings,
    db: Database,
    clock: Clock,
    streams: StreamStore,
    timeline: Timeline,
    accounts: AccountsService,
    hasher: Hasher,
    due: DueJobs,
    *,
    on_audit_findings: Callable[[int], None] | None = None,
) -> WalletService:
    pepper_file = settings.wallet_pin_pepper_file or settings.data_dir / "wallet-pin-pepper"
    qr_key_file = settings.wallet_qr_signing_key_file or settings.data_dir / "wallet-qr-signing-key"
    provider, callbacks = build_provider(settings, clock)
    public_url = settings.wallet_public_url or IN_PROCESS_SELF_URL
    wallet = WalletService(
        db,
        clock,
        streams,
        timeline,
        accounts,
        hasher,
        due,
        WalletPolicy(
            currencies=tuple(settings.wallet_currencies),
            single_debit_major=settings.wallet_single_debit_limit_major,
            daily_debit_major=settings.wallet_daily_debit_limit_major,
            transfer_expiry=dt.timedelta(hours=settings.wallet_transfer_expiry_hours),
            red_packet_cap_major=settings.wallet_red_packet_cap_major,
            red_packet_max_shares=settings.wallet_red_packet_max_shares,
            red_packet_expiry=dt.timedelta(hours=settings.wallet_red_packet_expiry_hours),
            refund_window=dt.timedelta(days=settings.wallet_refund_window_days),
        ),
        load_pepper(pepper_file),
        PinPolicy(
            max_failures=settings.wallet_pin_max_failures,
            lock=dt.timedelta(minutes=settings.wallet_pin_lock_minutes),
        ),
        settings.wallet_idempotency_days,
        qr_keys=QrKeyring.from_files(qr_key_file, settings.wallet_qr_previous_key_files),
        provider=provider,
        callback_url=public_url.rstrip("/") + CALLBACK_PATH,
        recurring_jobs=settings.wallet_oversight_jobs,
        on_audit_findings=on_audit_findings,
    )
    if callbacks is not None:
        callbacks.wallet = wallet
    return wallet


class CallbacksToWallet(httpx.AsyncBaseTransport):
    """Hands the in-process sandbox's callbacks to the wallet, as the callback route would:
    a 2xx only once the wallet's transaction has committed."""

    def __init__(self) -> None:
        self.wallet: WalletService | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.wallet is None:
            return httpx.Response(503)
        body = await request.aread()
        try:
            await self.wallet.operations.do_callback("sandbox", request.headers, body)
        except CourtyardError as exc:
            return httpx.Response(status_for(exc), json={"code": exc.code})
        except Exception:  # as the route would: a 500, so the sandbox backs off and retries
            log.exception("in-process provider callback failed")
            return httpx.Response(500)
        return httpx.Response(200, json={"ok": True})


def build_provider(
    settings: Settings, clock: Clock
) -> tuple[PaymentProvider | None, CallbacksToWallet | None]:
    """The configured payment provider. Without ``wallet_provider_url`` the sandbox runs in
    this process (its own SQLite file in ``data_dir``), reached through ``ASGITransport``,
    its callbacks handed straight to the wallet; nothing else needs to run."""
    if settings.wallet_provider == "none":
        return None, None
    key, secret = settings.wallet_provider_api_key, settings.wallet_provider_secret.encode()
    if settings.wallet_provider_url:
        if not settings.wallet_public_url:
            raise ConfigError("wallet_public_url is needed for a provider in another process")
        return SandboxProvider(settings.wallet_provider_url, key, secret, clock), None
    callbacks = CallbacksToWallet()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_sandbox_app(
        settings.data_dir / "sandbox-provider.db",
        api_key=key,
        callback_secret=secret,
        clock=clock,
        callback_transport=callbacks,
    )
    provider = SandboxProvider(
        IN_PROCESS_SANDBOX_URL,
        key,
        secret,
        clock,
        transport=httpx.ASGITransport(app=app),
        companion=app.router.lifespan_context(app),
    )
    return provider, callbacks

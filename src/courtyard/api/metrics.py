"""Prometheus metrics, one registry per app so several apps can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "courtyard_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "courtyard_http_request_seconds",
            "HTTP request latency by route template.",
            ["route"],
            registry=self.registry,
        )
        self.sync_sockets = Gauge(
            "courtyard_sync_sockets", "Open sync WebSockets on this node.", registry=self.registry
        )
        self.sync_events_sent = Counter(
            "courtyard_sync_events_sent_total",
            "Stream events delivered to devices by sync.",
            registry=self.registry,
        )
        self.login_failures = Counter(
            "courtyard_login_failures_total",
            "Failed or refused logins, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.due_jobs_failed = Counter(
            "courtyard_due_jobs_failed_total",
            "Due-time jobs that failed 20 times and wait for an operator.",
            registry=self.registry,
        )
        self.wallet_audit_findings = Gauge(
            "courtyard_wallet_audit_findings",
            "Findings of the latest wallet ledger audit run (0: the ledger checked clean).",
            registry=self.registry,
        )
        self.wallet_transfer_batch = Histogram(
            "courtyard_wallet_transfer_batch_size",
            "Transfer creations committed together, per batch (sum / count: the mean).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

"""Prometheus metrics (``/metrics``): requests, latencies, certificates issued, verifications by verdict."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry()
REQUESTS = Counter("ecert_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram(
    "ecert_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)
ISSUED = Counter("ecert_certificates_issued_total", "Certificates issued over the web", registry=REGISTRY)
VERIFICATIONS = Counter("ecert_verifications_total", "Verifications by verdict", ["kind", "status"], registry=REGISTRY)
VERIFY_LOG_DROPPED = Counter(
    "ecert_verification_log_dropped_total",
    "Verifications not written to the verification log (its buffer was full: the database was down or slow)",
    registry=REGISTRY,
)

RATE_LIMIT_FALLBACK = Gauge(
    "ecert_rate_limit_fallback",
    "1 while the public pages' rate limits are this process's own because Redis does not answer, else 0",
    registry=REGISTRY,
)


def rate_limit_fallback(on: bool) -> None:
    RATE_LIMIT_FALLBACK.set(1 if on else 0)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(route).observe(seconds)


def render_latest() -> bytes:
    return generate_latest(REGISTRY)

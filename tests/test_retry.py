"""When the proxy tries DashScope again: `retry_delay` and `parse_retry_after`, pure functions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.core.errors import (
    AuthenticationFailed,
    InvalidRequest,
    ProxyError,
    Unavailable,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from proxy.core.retry import RetryPolicy, parse_retry_after, retry_delay

POLICY = RetryPolicy(retries=3, max_wait=10.0, budget=30.0)


def upstream(status: int, code: str = "X", retry_after: float | None = None) -> UpstreamError:
    return UpstreamError("failed", status=status, code=code, retry_after=retry_after)


def delay(
    error: ProxyError,
    attempt: int = 1,
    elapsed: float = 0.0,
    jitter: float = 0.0,
    policy: RetryPolicy = POLICY,
) -> float | None:
    return retry_delay(policy, error, attempt=attempt, elapsed=elapsed, jitter=jitter)


RETRIED = [
    UpstreamUnavailable("connection refused"),
    UpstreamTimeout("no first frame"),
    upstream(500, "InternalError"),
    upstream(502),
    upstream(503, "ModelUnavailable"),
    upstream(429, "Throttling.RateQuota"),
    upstream(408, "RequestTimeOut"),
    upstream(409),
]
FINAL = [
    upstream(400, "InvalidParameter"),
    upstream(401, "InvalidApiKey"),
    upstream(403, "AccessDenied"),
    upstream(404, "ModelNotFound"),
    upstream(429, "Throttling.AllocationQuota"),
    upstream(429, "AllocationQuota.FreeTierOnly"),
    upstream(429, "Arrearage"),
    upstream(429, "PrepaidBillOverdue"),
    InvalidRequest("bad"),
    AuthenticationFailed("no key"),
]


@pytest.mark.parametrize("error", RETRIED, ids=lambda e: f"{e.status}-{e.code}")
def test_connection_errors_timeouts_5xx_and_plain_429s_are_retried(error: ProxyError) -> None:
    assert delay(error) is not None


@pytest.mark.parametrize("error", FINAL, ids=lambda e: f"{e.status}-{e.code}")
def test_client_errors_quota_and_billing_are_final(error: ProxyError) -> None:
    assert delay(error) is None


def test_retries_stop_after_the_configured_number() -> None:
    error = upstream(500)
    retried = [delay(error, attempt=n) is not None for n in (1, 2, 3, 4, 5)]
    assert retried == [True, True, True, False, False]
    assert delay(error, policy=RetryPolicy(retries=0)) is None


def test_backoff_doubles_with_equal_jitter() -> None:
    error = upstream(503)
    assert [delay(error, attempt=n, jitter=0.0) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]
    assert [delay(error, attempt=n, jitter=0.999999) for n in (1, 2, 3)] == pytest.approx(
        [0.5, 1.0, 2.0]
    )


@given(attempt=st.integers(1, 50), jitter=st.floats(0, 1, exclude_max=True))
def test_backoff_stays_between_half_a_step_and_the_cap(attempt: int, jitter: float) -> None:
    policy = RetryPolicy(retries=100, max_wait=4.0, budget=1e9)
    step = min(0.5 * 2 ** (attempt - 1), 4.0)
    wait = delay(upstream(500), attempt=attempt, jitter=jitter, policy=policy)
    assert wait is not None
    assert step / 2 <= wait <= step <= 4.0


def test_retry_after_is_honoured_instead_of_the_backoff() -> None:
    assert delay(upstream(429, retry_after=3.0), jitter=0.9) == 3.0
    assert delay(upstream(503, retry_after=0.0)) == 0.0


def test_retry_after_is_capped_at_max_wait() -> None:
    policy = RetryPolicy(retries=2, max_wait=2.0, budget=30.0)
    assert delay(upstream(429, retry_after=120.0), policy=policy) == 2.0


def test_a_negative_retry_after_falls_back_to_the_backoff() -> None:
    assert delay(upstream(429, retry_after=-5.0), jitter=0.0) == 0.25


def test_retry_after_on_a_final_error_does_not_make_it_retried() -> None:
    assert delay(upstream(429, "Throttling.AllocationQuota", retry_after=1.0)) is None


def test_a_retry_must_start_within_the_budget() -> None:
    policy = RetryPolicy(retries=5, max_wait=10.0, budget=5.0)
    busy = upstream(429, retry_after=2.0)
    assert delay(busy, elapsed=3.0, policy=policy) == 2.0  # exactly at the budget
    assert delay(busy, elapsed=3.01, policy=policy) is None
    assert delay(upstream(500), elapsed=5.0, policy=policy) is None
    assert delay(upstream(500), policy=RetryPolicy(budget=0.0)) is None


@pytest.mark.parametrize("code", ["draining", "connection_pool_full"])
def test_the_proxys_own_503_is_for_the_client_to_retry_not_the_proxy(code: str) -> None:
    # A draining or full proxy: worth a retry after Retry-After (the SDK does it, perhaps on
    # another replica), but not at once by the proxy, which would queue behind itself.
    refusal = Unavailable("full", code=code)
    assert refusal.retryable
    assert refusal.retry_after == 1.0
    assert delay(refusal) is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1", 1.0),
        ("0", 0.0),
        (" 2 ", 2.0),
        ("1.5", 1.5),
        ("120", 120.0),
    ],
)
def test_parse_retry_after_reads_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


@pytest.mark.parametrize(
    "header",
    [None, "", "  ", "-1", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "1s", "nan"],
)
def test_parse_retry_after_ignores_what_is_not_seconds(header: str | None) -> None:
    assert parse_retry_after(header) is None


# Regression: "inf" parsed as infinity, and writing the retry-after header then raised
# OverflowError: a 500 that never released the exchange's slot.
@pytest.mark.parametrize("header", ["inf", "Infinity", "1e999"])
def test_parse_retry_after_ignores_infinity(header: str) -> None:
    seconds = parse_retry_after(header)
    assert seconds is None or math.isfinite(seconds)


@given(st.text(max_size=30))
def test_parse_retry_after_never_raises(header: str) -> None:
    seconds = parse_retry_after(header)
    assert seconds is None or seconds >= 0

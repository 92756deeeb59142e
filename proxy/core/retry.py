"""When to try DashScope again (sans-I/O: the shell passes elapsed time and jitter).

Only before the first byte has reached the client: a retry after that would duplicate output
(and, once code has run, side effects). Retried: connection failures and timeouts, 5xx, and
429s that are not quota or billing (`ProxyError.retryable`). Backoff is exponential with
jitter; a `Retry-After` from DashScope is honoured up to `max_wait`; all attempts of one
request stay within `budget` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.core.errors import ProxyError, Unavailable

_BASE = 0.5  # seconds before the first retry, doubled each time


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 2
    max_wait: float = 10.0
    budget: float = 30.0


def retry_delay(
    policy: RetryPolicy,
    error: ProxyError,
    *,
    attempt: int,
    elapsed: float,
    jitter: float,
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None when the error is final.

    `attempt` counts the attempts made so far (1 after the first); `jitter` is in [0, 1).
    """
    # The proxy's own refusals (a full connection pool, a drain) are for the client to retry
    # later: trying again at once would only queue behind the same capacity.
    if attempt > policy.retries or not error.retryable or isinstance(error, Unavailable):
        return None
    if error.retry_after is not None and error.retry_after >= 0:
        delay = min(error.retry_after, policy.max_wait)
    else:
        # "Equal jitter": at least half the exponential step, so retries never stampede.
        step = min(_BASE * 2 ** (attempt - 1), policy.max_wait)
        delay = step / 2 + step / 2 * jitter
    if elapsed + delay > policy.budget:
        return None
    return delay


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header; HTTP dates are not worth a clock read here."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None  # (NaN fails both tests)

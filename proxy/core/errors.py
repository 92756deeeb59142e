"""The project's errors: each carries the HTTP status it should become and an OpenAI error body."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from proxy.core.error_answer import ErrorAnswer

# DashScope codes whose retry would fail the same way (quota, billing). Clients are told not to
# retry them (`x-should-retry: false`), so SDKs do not hammer the upstream.
_NOT_RETRYABLE_429 = frozenset(
    {
        "Throttling.AllocationQuota",
        "AllocationQuota.FreeTierOnly",
        "PrepaidBillOverdue",
        "PostpaidBillOverdue",
        "CommodityNotPurchased",
        "Arrearage",
    }
)

# OpenAI's `type` values, as its API returns them: every client error is an
# `invalid_request_error` (a bad key with 401, an unknown model with 404, a missing permission
# with 403), a rate limit names what it limits (`requests`), a spent quota or an unpaid bill is
# `insufficient_quota`, and anything on the server's side is a `server_error`.
INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"


def error_type_for(status: int, code: str | None = None) -> str:
    """OpenAI's error `type` for an HTTP status (and, for a 429, DashScope's code)."""
    if status >= 500:
        return SERVER_ERROR
    if status == 429:
        return "insufficient_quota" if code in _NOT_RETRYABLE_429 else "requests"
    return INVALID_REQUEST


class ProxyError(Exception):
    """Base of every error the proxy reports to a client."""

    status: int = 500
    type: str = SERVER_ERROR
    code: str | None = "internal_error"
    # DashScope's answer the error was made from, when it answered with no event stream: the
    # traffic record keeps it so that `logs replay` can make the error again.
    answer: ErrorAnswer | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if type is not None:
            self.type = type
        elif status is not None:  # a status given without a type: OpenAI's type for it
            self.type = error_type_for(status, self.code)
        self.param = param
        self.request_id = request_id  # DashScope's request id, when the error came from it
        self.retry_after = retry_after  # seconds, for the client's Retry-After header

    @property
    def retryable(self) -> bool:
        """Whether the same request could succeed later (drives `x-should-retry`)."""
        if self.status == 429:
            return self.code not in _NOT_RETRYABLE_429
        return self.status >= 500 or self.status in (408, 409)

    def masked(self, mask: Callable[[str], str]) -> ProxyError:
        """The same error with its message passed through `mask`: messages quote upstream
        texts, which may hold keys (an error page that echoes the request head)."""
        # Not copy.copy: it would call __init__ again, whose signature differs per subclass.
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.message = mask(self.message)
        clone.args = (clone.message,)
        return clone

    def to_body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def error_headers(error: ProxyError) -> dict[str, str]:
    """Headers that tell SDKs whether and when to retry."""
    headers = {}
    if not error.retryable:
        headers["x-should-retry"] = "false"
    if error.retry_after is not None:
        headers["retry-after"] = str(max(1, round(error.retry_after)))
    return headers


class InvalidRequest(ProxyError):
    """The client's request cannot be translated: bad JSON, wrong types, impossible combinations."""

    status = 400
    type = INVALID_REQUEST
    code = "invalid_request"


class AuthenticationFailed(ProxyError):
    status = 401
    type = INVALID_REQUEST  # what OpenAI answers a wrong key with
    code = "invalid_api_key"


class NotFound(ProxyError):
    status = 404
    type = INVALID_REQUEST
    code = "not_found"


class UpstreamError(ProxyError):
    """DashScope answered with an error; its HTTP status and DashScope code are kept."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            type=error_type_for(status, code),
            code=code,
            request_id=request_id,
            retry_after=retry_after,  # from DashScope's Retry-After header
        )


class UpstreamUnavailable(ProxyError):
    """DashScope could not be reached, or broke its own protocol."""

    status = 502
    type = SERVER_ERROR
    code = "upstream_unavailable"


class FrameTooLarge(UpstreamUnavailable):
    """An upstream SSE line or event beyond the configured limit: the stream is cut there, so
    that a runaway (or hostile) upstream cannot take the proxy's memory and CPU."""

    code = "upstream_frame_too_large"


class UpstreamRedirect(UpstreamUnavailable):
    """DashScope's address answered with a redirect: the configured URL is wrong, and asking
    again would be redirected again."""

    code = "upstream_redirect"

    @property
    def retryable(self) -> bool:
        return False


class UpstreamTimeout(ProxyError):
    status = 504
    type = SERVER_ERROR
    code = "upstream_timeout"


class Unavailable(ProxyError):
    """The proxy itself cannot take the request now (draining, at its concurrency limit)."""

    status = 503
    type = SERVER_ERROR
    code = "proxy_unavailable"

    def __init__(self, message: str, *, retry_after: float = 1.0, code: str | None = None):
        super().__init__(message, code=code, retry_after=retry_after)


# Every connection to DashScope stayed busy for `pool_timeout`: the proxy's own capacity.
POOL_FULL = "connection_pool_full"


class PayloadTooLarge(ProxyError):
    status = 413
    type = INVALID_REQUEST
    code = "request_too_large"

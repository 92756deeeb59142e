"""The project's errors: each carries the HTTP status it should become and an OpenAI error body."""

from __future__ import annotations

from typing import Any

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

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def error_type_for(status: int) -> str:
    if status in _TYPE_BY_STATUS:
        return _TYPE_BY_STATUS[status]
    return "api_error" if status >= 500 else "invalid_request_error"


class ProxyError(Exception):
    """Base of every error the proxy reports to a client."""

    status: int = 500
    type: str = "api_error"
    code: str | None = "internal_error"

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
        if type is not None:
            self.type = type
        if code is not None:
            self.code = code
        self.param = param
        self.request_id = request_id  # DashScope's request id, when the error came from it
        self.retry_after = retry_after  # seconds, for the client's Retry-After header

    @property
    def retryable(self) -> bool:
        """Whether the same request could succeed later (drives `x-should-retry`)."""
        if self.status == 429:
            return self.code not in _NOT_RETRYABLE_429
        return self.status >= 500 or self.status in (408, 409)

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
    type = "invalid_request_error"
    code = "invalid_request"


class AuthenticationFailed(ProxyError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class NotFound(ProxyError):
    status = 404
    type = "invalid_request_error"
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
            type=error_type_for(status),
            code=code,
            request_id=request_id,
            retry_after=retry_after,  # from DashScope's Retry-After header
        )


class UpstreamUnavailable(ProxyError):
    """DashScope could not be reached, or broke its own protocol."""

    status = 502
    type = "api_error"
    code = "upstream_unavailable"


class UpstreamTimeout(ProxyError):
    status = 504
    type = "api_error"
    code = "upstream_timeout"


class Unavailable(ProxyError):
    """The proxy itself cannot take the request now (draining, at its concurrency limit)."""

    status = 503
    type = "api_error"
    code = "proxy_unavailable"

    def __init__(self, message: str, *, retry_after: float = 1.0, code: str | None = None):
        super().__init__(message, code=code, retry_after=retry_after)


class PayloadTooLarge(ProxyError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"

"""The recorded endpoint is the request URL's path, read from the scope without building the
URL: the same text Starlette's `request.url.path` gives, for any path."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from proxy.server.routes import _endpoint


def _scope(path: str) -> dict[str, object]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"a=1",
        "headers": [(b"host", b"proxy.local:8080")],
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
    }


@given(st.text(alphabet=st.sampled_from("/abc?#\\%é. v1"), max_size=30).map(lambda t: "/" + t))
def test_the_endpoint_is_the_url_path(path: str) -> None:
    scope = _scope(path)
    assert _endpoint(scope) == Request(scope).url.path


def test_the_usual_paths() -> None:
    assert _endpoint(_scope("/v1/chat/completions")) == "/v1/chat/completions"
    assert _endpoint(_scope("/ci/a?b#c\\d/v1")) == "/ci/a%3Fb%23c%5Cd/v1"

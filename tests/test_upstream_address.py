"""Which URL the upstream client calls for each region, workspace and form of `base_url`, and
which settings are refused at start (docs/dashscope-protocol.md, "Endpoints and base URLs")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from proxy.config import ConfigError, load_settings, settings_from_mapping
from proxy.core.native_request import MULTIMODAL_GENERATION_PATH, TEXT_GENERATION_PATH
from proxy.server.upstream import UpstreamClient

TEXT = "/api/v1/services/aigc/text-generation/generation"


@dataclass(frozen=True)
class Sent:
    url: str
    headers: dict[str, str]


def requested(upstream: dict[str, Any], path: str = TEXT_GENERATION_PATH) -> Sent:
    """The request the upstream client sends with these `[upstream]` settings (validated as at
    start): its URL (scheme, Host header and target) and headers, from the bytes it writes."""
    settings = settings_from_mapping({"upstream": upstream}).upstream
    client = UpstreamClient(settings)
    head = client.encode(path, {"model": "m"}, "sk-test").split(b"\r\n\r\n")[0].decode()
    request_line, *lines = head.split("\r\n")
    method, target, version = request_line.split(" ")
    assert (method, version) == ("POST", "HTTP/1.1")
    headers = {name.lower(): value.strip() for name, value in (x.split(":", 1) for x in lines)}
    scheme = settings.url.split(":", 1)[0]
    return Sent(f"{scheme}://{headers['host']}{target}", headers)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://dashscope-intl.aliyuncs.com",
        "https://dashscope-intl.aliyuncs.com/",
        "https://dashscope-intl.aliyuncs.com/api/v1",  # as the vendor's docs and SDKs write it
        "https://dashscope-intl.aliyuncs.com/api/v1/",
    ],
)
async def test_base_url_with_or_without_api_v1_calls_the_same_url(base_url: str) -> None:
    request = requested({"base_url": base_url})
    assert str(request.url) == f"https://dashscope-intl.aliyuncs.com{TEXT}"


async def test_base_url_keeps_a_gateway_path_prefix_and_a_port() -> None:
    for base_url in ("http://127.0.0.1:9000/dashscope", "http://127.0.0.1:9000/dashscope/api/v1/"):
        request = requested({"base_url": base_url})
        assert str(request.url) == f"http://127.0.0.1:9000/dashscope{TEXT}"


async def test_the_multimodal_path_joins_the_same_base() -> None:
    request = requested(
        {"base_url": "https://dashscope.aliyuncs.com/api/v1"}, MULTIMODAL_GENERATION_PATH
    )
    assert str(request.url) == (
        "https://dashscope.aliyuncs.com/api/v1/services/aigc/multimodal-generation/generation"
    )


async def test_base_url_from_the_environment_in_the_vendors_form() -> None:
    settings = load_settings(
        None, {"DASHSCOPE_PROXY_BASE_URL": "https://dashscope-us.aliyuncs.com/api/v1"}
    )
    assert settings.upstream.url == "https://dashscope-us.aliyuncs.com"


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("beijing", "dashscope.aliyuncs.com"),
        ("singapore", "dashscope-intl.aliyuncs.com"),
        ("us", "dashscope-us.aliyuncs.com"),
        ("hongkong", "cn-hongkong.dashscope.aliyuncs.com"),
        ("finance", "dashscope-finance.aliyuncs.com"),
    ],
)
async def test_each_region_calls_its_dashscope_domain(region: str, host: str) -> None:
    request = requested({"region": region})
    assert str(request.url) == f"https://{host}{TEXT}"
    assert "x-dashscope-workspace" not in request.headers


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("beijing", "ws-a1b2.cn-beijing.maas.aliyuncs.com"),
        ("singapore", "ws-a1b2.ap-southeast-1.maas.aliyuncs.com"),
        ("us", "ws-a1b2.us-east-1.maas.aliyuncs.com"),
        ("hongkong", "ws-a1b2.cn-hongkong.maas.aliyuncs.com"),
        ("frankfurt", "ws-a1b2.eu-central-1.maas.aliyuncs.com"),
        ("finance", "dashscope-finance.aliyuncs.com"),  # no workspace domain: the header only
    ],
)
async def test_a_workspace_selects_the_regions_workspace_domain(region: str, host: str) -> None:
    request = requested({"region": region, "workspace": "ws-a1b2"})
    assert str(request.url) == f"https://{host}{TEXT}"
    assert request.headers["x-dashscope-workspace"] == "ws-a1b2"


async def test_base_url_wins_over_the_workspace_domain_and_the_header_stays() -> None:
    request = requested(
        {
            "region": "singapore",
            "workspace": "llm-xyz",
            "base_url": "https://dashscope-intl.aliyuncs.com",
        }
    )
    assert str(request.url) == f"https://dashscope-intl.aliyuncs.com{TEXT}"
    assert request.headers["x-dashscope-workspace"] == "llm-xyz"


@pytest.mark.parametrize(
    ("upstream", "says"),
    [
        (
            {"base_url": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"},
            "use https://dashscope-intl.aliyuncs.com/api/v1",
        ),
        ({"base_url": "https://dashscope.aliyuncs.com/apps/anthropic"}, "compatible mode"),
        ({"base_url": "ftp://dashscope.aliyuncs.com"}, "http:// or https://"),
        ({"base_url": "dashscope.aliyuncs.com/api/v1"}, "http:// or https://"),
        ({"base_url": "https:///api/v1"}, "must name a host"),
        ({"base_url": "http://127.0.0.1:port"}, "valid port"),
        ({"base_url": "https://dashscope.aliyuncs.com/api/v1?region=x"}, "query or a fragment"),
        ({"base_url": "https://dashscope.aliyuncs.com/#top"}, "query or a fragment"),
        ({"base_url": "https://dashscope.aliyuncs.com/api/v1?"}, "query or a fragment"),
        ({"base_url": "http://127.0.0.1:0"}, "valid port"),
        ({"base_url": f"https://dashscope.aliyuncs.com{TEXT}"}, "names an endpoint"),
        ({"region": "frankfurt"}, "set [upstream] workspace"),
        ({"region": "hangzhou"}, "must be one of beijing, singapore, us, hongkong, frankfurt"),
        ({"workspace": "ws.a1b2"}, "workspace id"),
        ({"workspace": "-ws"}, "workspace id"),
    ],
)
def test_an_unusable_address_is_refused_at_start_naming_the_key(
    upstream: dict[str, str], says: str
) -> None:
    key = next(iter(upstream))
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"upstream": upstream})
    assert str(caught.value).startswith(f"[upstream] {key} ")
    assert says in str(caught.value)

"""Where DashScope's native API lives: region hosts, workspace-dedicated domains, and the forms
of a base URL the proxy accepts (sans-I/O).

A region has up to two kinds of host (Model Studio's "Base URL overview" and regions pages):
the shared DashScope domain, which takes a key from any workspace of the region, and the
workspace-dedicated domain `{WorkspaceId}.{region id}.maas.aliyuncs.com`, which takes only that
workspace's keys and which the vendor now recommends. Both serve the native API under
`/api/v1`. docs/dashscope-protocol.md ("Endpoints and base URLs") cites the sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

NATIVE_PREFIX = "/api/v1"  # every native path starts with it (proxy/core/native_request.py)


@dataclass(frozen=True, slots=True)
class Region:
    host: str | None  # the shared DashScope domain; None where the vendor documents none
    maas_id: str | None  # the region id in the workspace-dedicated domain; None if it has none


REGIONS: dict[str, Region] = {
    "beijing": Region("dashscope.aliyuncs.com", "cn-beijing"),
    "singapore": Region("dashscope-intl.aliyuncs.com", "ap-southeast-1"),
    "us": Region("dashscope-us.aliyuncs.com", "us-east-1"),  # US (Virginia)
    "hongkong": Region("cn-hongkong.dashscope.aliyuncs.com", "cn-hongkong"),
    "frankfurt": Region(None, "eu-central-1"),  # Germany (Frankfurt): workspace domains only
    # Finance Cloud: named by the Chinese "model calling in a sub-workspace" page, not by the
    # regions page; no workspace-dedicated domain is documented for it.
    "finance": Region("dashscope-finance.aliyuncs.com", None),
}

# What the DashScope SDK accepts as a workspace id, which becomes a host name label here.
_WORKSPACE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# Paths of DashScope's other protocols on the same hosts, which the proxy does not speak.
_COMPATIBLE_PATHS = ("/compatible-mode", "/apps/anthropic")


def region_url(region: str, workspace: str = "") -> str:
    """The native base URL (scheme and host, no `/api/v1`) of a region key from `REGIONS`:
    the workspace-dedicated domain when a workspace is given and the region has one."""
    preset = REGIONS[region]
    if workspace and preset.maas_id:
        return f"https://{workspace}.{preset.maas_id}.maas.aliyuncs.com"
    if preset.host is None:
        raise ValueError(
            f'"{region}" has only workspace-dedicated domains: set [upstream] workspace to '
            "your workspace id"
        )
    return f"https://{preset.host}"


def check_workspace(workspace: str) -> None:
    """A workspace id usable as a host name label and as a header value, else ValueError."""
    if workspace and not _WORKSPACE_ID.fullmatch(workspace):
        raise ValueError(
            "must be a Model Studio workspace id (letters, digits, '-' and '_', at most 64, "
            f"starting with a letter or digit), got {workspace!r}"
        )


def native_base(url: str) -> str:
    """`url` as the proxy joins native paths to it: the vendor's form (`…/api/v1`, as its docs
    and SDKs write it) and the bare host both name the same base; a trailing slash is
    ignored. Raises ValueError saying what is wrong with a URL that is not a native base."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"must start with http:// or https://, got {url!r}")
    try:
        named = bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number, or out of range
        named = False
    if not named:
        raise ValueError(f"must name a host (and a valid port, if any), got {url!r}")
    if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
        raise ValueError(f"must not have a query or a fragment, got {url!r}")
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    _check_path(path, url, origin)
    return origin + path.removesuffix(NATIVE_PREFIX)


def _check_path(path: str, url: str, origin: str) -> None:
    if any(compatible in path for compatible in _COMPATIBLE_PATHS):
        raise ValueError(
            f"is {url!r}, an address of DashScope's compatible mode; the proxy speaks the "
            f"native protocol, served on the same host: use {origin}{NATIVE_PREFIX}"
        )
    if f"{NATIVE_PREFIX}/" in f"{path}/" and not path.endswith(NATIVE_PREFIX):
        raise ValueError(
            f"is {url!r}, which names an endpoint; give the base it is under, ending at "
            f"{NATIVE_PREFIX} (or the host alone)"
        )

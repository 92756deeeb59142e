"""The process's open-file limit, fitted at `serve` to the connections the config allows.

Every client connection and every upstream connection is a file descriptor. Out of them, the
two event loops fail differently: asyncio's stops accepting for a second at a time, leaving
new connections in the backlog (connections.throttle_accept_errors logs it); uvloop's (libuv)
accepts and closes them at once, without a word. So `serve` raises its soft limit as far as
the hard limit allows and, when that is still short of what [server] max_client_connections
and [upstream] max_connections allow, says so once at startup.
"""

from __future__ import annotations

import sys

# Descriptors besides the connections: the listener, the logs, the traffic log, telemetry.
SPARE = 64


def fit_file_limit(needed: int) -> str | None:
    """Raise the soft limit toward `needed` descriptors (up to the hard limit); a warning when
    it stays below, else None."""
    if sys.platform == "win32":  # no such limit to fit
        return None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return None
    target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # a sandbox may refuse; the warning below says it all
            pass
    if soft >= needed:
        return None
    return (
        f"the open-file limit ({soft}, `ulimit -n`) is below the {needed} descriptors that "
        "[server] max_client_connections and [upstream] max_connections allow (with "
        f"{SPARE} spare): past it new client connections fail; raise the limit or lower those"
    )

"""Loopback probes: is a port free, is it listening, what does an HTTP endpoint answer."""

from __future__ import annotations

import contextlib
import socket
import urllib.error
import urllib.request

HOST = "127.0.0.1"

# Local endpoints must never go through a proxy configured for the outside world.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def port_free(port: int) -> bool:
    """True when nothing listens on `port` of 127.0.0.1 (a bind there would succeed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def port_open(port: int, timeout: float = 0.5) -> bool:
    """True when something on 127.0.0.1 accepts a TCP connection on `port`."""
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=timeout):
        return True
    return False


def http_status(method: str, url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status `url` answers to `method`, or None when nothing answers."""
    request = urllib.request.Request(url, method=method)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None

"""The client behind a load balancer: forwarded headers believed from configured proxies only.

Behind a proxy every connection comes from the proxy's address. ``CALENDO_TRUSTED_PROXIES``
names the proxies (addresses or networks); from those peers, and from no one else,
``X-Forwarded-For`` gives the client address and ``X-Forwarded-Proto`` the scheme. The
middleware runs outermost, so everything after it (request logs, the per-IP rate limit, audit
rows, ``request.url.scheme`` for secure cookies and redirects) sees the real client.

The header walk is uvicorn's ``ProxyHeadersMiddleware``: the client is the right-most address
in ``X-Forwarded-For`` that is not itself a trusted proxy, so a client cannot forge its
address by sending the header itself (a proxy appends the peer it saw). It runs inside the
app rather than as uvicorn's ``--proxy-headers`` so that the in-process test client exercises
the same code as a real server, and the setting is one of Calendo's, validated at start-up.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def parse_trusted_proxies(values: Iterable[str]) -> list[str]:
    """Each entry as a normalised network (``10.0.0.7`` -> ``10.0.0.7/32``); a typo is an error.

    uvicorn would treat an unparsable entry as a literal host name that never matches, which
    would silently trust no one; ``*`` (trust every peer) is refused: name the networks."""
    networks: list[str] = []
    for value in values:
        entry = value.strip()
        if not entry:
            continue
        try:
            networks.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            raise ValueError(
                f"CALENDO_TRUSTED_PROXIES: {entry!r} is not an IP address or network"
            ) from None
    return networks


class TrustedProxyMiddleware:
    """Rewrite ``scope["client"]`` and ``scope["scheme"]`` from the forwarded headers when the
    peer is a trusted proxy; leave every other request as it came."""

    def __init__(self, app: ASGIApp, *, trusted: list[str]) -> None:
        self.app = app
        # uvicorn types ASGI with aliases of its own, structurally the same as Starlette's.
        loose: Any = app
        self.inner: Any = ProxyHeadersMiddleware(loose, trusted_hosts=trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.inner(scope, receive, send)

"""Connection-level guards: a cap on header bytes, a deadline for each body chunk, and HEAD.

Both run before anything reads a token or a body, so an oversized header block or a stalled
upload costs one comparison or one timer, never a token decode or a held database session.

- **Headers.** Every request's header block (names and values) is capped at
  ``CALENDO_MAX_HEADER_BYTES`` (16 KiB; a Calendo access token is about 300 bytes). Over it, an
  HTTP request gets ``431 Request Header Fields Too Large`` and a WebSocket handshake is refused.
- **Bodies.** Each chunk of a request body must arrive within ``CALENDO_BODY_READ_TIMEOUT_SECONDS``
  (10 s) of the previous one, or the request answers ``408 Request Timeout``.

- **HEAD.** A ``HEAD`` request is served as the ``GET`` of the same URL, without its content
  (RFC 9110, 9.3.2: every general-purpose server supports both): the same status and headers
  (``ETag``, ``Content-Length``, the rate-limit headers), an empty body. The app sees a
  ``GET``, so no route declares ``HEAD`` of its own, and a path with no ``GET`` answers 405;
  a 405's ``Allow`` names ``HEAD`` wherever it names ``GET``.

The header *read* itself (a client dribbling a header line byte by byte) happens in the HTTP
server before the app is called, so it cannot be timed here: the load balancer in front of
Calendo bounds it (docs/operations.md, "Slow clients").
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calendo.core.errors import HeaderFieldsTooLarge, RequestTimeout, send_app_error


class BodyReadTimeout(Exception):
    """The client stopped sending its request body."""


class GuardMiddleware:
    """Refuse oversized header blocks; give every body chunk a deadline."""

    def __init__(self, app: ASGIApp, *, max_header_bytes: int, body_timeout: float) -> None:
        self.app = app
        self.max_header_bytes = max_header_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        size = sum(len(name) + len(value) for name, value in scope["headers"])
        if size > self.max_header_bytes:
            if scope["type"] == "websocket":
                # Refusing the handshake is an HTTP 403 from the server; nothing reaches the app.
                await send({"type": "websocket.close", "code": 1008})
                return
            refusal = HeaderFieldsTooLarge(
                f"Request headers are limited to {self.max_header_bytes} bytes in all; "
                f"these are {size}"
            )
            await send_app_error(send, refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        body_done = False
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}  # a copy: the server's own scope stays HEAD

        async def timed_receive() -> Message:
            # Only the body is timed: a later receive() (a streaming response waiting for the
            # client to leave) may rightly wait as long as the response lasts.
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                raise BodyReadTimeout from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 405:
                    message = _allow_head(message)
            if head and message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, timed_receive, tracking_send)
        except BodyReadTimeout:
            if started:
                raise
            refusal = RequestTimeout(
                f"The request body stalled for more than {self.body_timeout:g} s",
                headers={"connection": "close"},
            )
            await send_app_error(send, refusal)


def _allow_head(start: Message) -> Message:
    """A 405's ``Allow`` with ``HEAD`` beside ``GET``, which this middleware serves too."""
    headers = [
        (name, value + b", HEAD")
        if name == b"allow" and b"GET" in value.split(b", ") and b"HEAD" not in value
        else (name, value)
        for name, value in start.get("headers", ())
    ]
    return {**start, "headers": headers}

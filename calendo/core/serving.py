"""What the server process adds to uvicorn: WebSockets closed with "going away" on shutdown.

On SIGTERM uvicorn stops listening, closes every open WebSocket at once, lets in-flight HTTP
requests finish (for up to ``CALENDO_GRACEFUL_TIMEOUT_SECONDS``, then cancels them), and only
then runs the lifespan's shutdown. Its close code for the sockets is 1012 (service restart);
Calendo's is 1001, going away (RFC 6455, 7.4.1): the endpoint is leaving, not failing, and a
client reconnects (through the load balancer, to another process) with
``?since=<last id received>`` and misses nothing, since every notification is in the database.

The class is named to uvicorn by import string (``ws=WS_PROTOCOL``), so every worker process
of ``CALENDO_WORKERS`` > 1 loads it too. It overrides one method of uvicorn's default
WebSocket protocol (websockets, sans-I/O); ``tests/reliability/test_graceful_shutdown.py``
holds it to a real server and a real SIGTERM, so an upgrade that changes that method shows.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

GOING_AWAY = 1001
GOING_AWAY_REASON = "server shutting down: reconnect with ?since=<last id>"
WS_PROTOCOL = "calendo.core.serving:GoingAwayWebSocketProtocol"


class GoingAwayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, closing open sockets with 1001 when the server stops."""

    def shutdown(self) -> None:
        """Tell the client 1001 and the app ``websocket.disconnect``, then drop the transport
        (as uvicorn does with its own code); handshakes and closing sockets go the usual way."""
        if not self.handshake_complete or self.close_sent:
            super().shutdown()
            return
        self.stop_keepalive()
        self.queue.put_nowait({"type": "websocket.disconnect", "code": GOING_AWAY})
        self.conn.send_close(GOING_AWAY, GOING_AWAY_REASON)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()

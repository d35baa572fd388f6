"""The gunicorn worker ``recommender serve`` runs: gthread, but no thread waits on a client.

gunicorn's gthread worker hands a connection to a thread as soon as its first
bytes arrive; the thread then blocks reading the rest of the request. A client
that sends half a request line and waits (a slowloris) holds a thread that way,
and a few hundred such clients hold them all: the server answers nobody.

:class:`BufferingThreadWorker` reads each request on the worker's event loop
instead, without blocking, and hands the connection to a thread only once the
whole request (head, and body up to its ``Content-Length``) is in; the parser
then reads it from memory. A client gets ``read_timeout`` seconds for that, then
a 408 and a closed connection; a head over :data:`MAX_HEAD_BYTES` gets a 431.
This is the design of Waitress's channels and of nginx's request buffering,
kept inside gunicorn so the rest of the process model (workers, reloads,
metrics) stays as it is.
"""

from __future__ import annotations

import contextlib
import errno
import re
import selectors
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

MAX_HEAD_BYTES = 64 * 1024
"""The request line and headers together; ours are a few hundred bytes."""
STOP_LINGER = 2.0
"""How long a stopping worker waits for requests still being sent."""

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*(?=\r\n|$)")
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r]*chunked")
_EXPECT_CONTINUE = re.compile(rb"\r\nexpect:[ \t]*100-continue")


def _json_response(status: str, code: str, message: str) -> bytes:
    body = (f'{{"error": {{"code": "{code}", "message": "{message}"}}}}\n').encode()
    return (f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


_TIMEOUT_RESPONSE = _json_response("408 Request Timeout", "timeout",
                                   "The request was not sent in time; send it whole.")
_TOO_LARGE_RESPONSE = _json_response("431 Request Header Fields Too Large",
                                     "invalid_parameter", "The request head is too large.")


class BufferingThreadWorker(ThreadWorker):
    """gthread whose threads see only connections with a whole request read."""

    read_timeout = 10.0
    """Seconds a client has to send a whole request (set by :mod:`recommender.api.server`)."""
    max_body = 1024 * 1024
    """Bodies announced larger are handed over unread, for the app to refuse (413)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading: deque[TConn] = deque()  # ordered by deadline: one timeout for all

    # -- reading on the loop ---------------------------------------------------------

    def accept(self, listener: Any) -> None:
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._read_request(TConn(self.cfg, sock, client, listener.getsockname()))

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection has bytes of its next request: read it here too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_request(conn)

    def enqueue_req(self, conn: TConn) -> None:
        # gunicorn calls this for a kept-alive connection whose next request is already
        # (partly) buffered behind the last one: it must be complete before a thread
        # takes it, like any other
        parser = conn.parser if conn.initialized else None
        if parser is not None and parser.unreader.buf.getbuffer().nbytes:
            self._read_request(conn, parser.unreader.take_buffered())
            return
        super().enqueue_req(conn)

    def _read_request(self, conn: TConn, start: bytes = b"") -> None:
        conn.sock.setblocking(False)
        conn.prebuffer = bytearray(start)
        conn.continued = False
        if self._complete(conn):
            self._hand_over(conn)
            return
        conn.read_deadline = time.monotonic() + self.read_timeout
        self.reading.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_bytes, conn))

    def _on_bytes(self, conn: TConn, sock: Any) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._stop_reading(conn)
            self._close(conn)
            return
        conn.prebuffer += data
        if conn.prebuffer.find(b"\r\n\r\n") < 0 and len(conn.prebuffer) > MAX_HEAD_BYTES:
            self._stop_reading(conn)
            self._close(conn, _TOO_LARGE_RESPONSE)
        elif self._complete(conn):
            self._stop_reading(conn)
            self._hand_over(conn)

    def _complete(self, conn: TConn) -> bool:
        """Whether the buffer holds a whole request (or one the app will refuse unread)."""
        buf = conn.prebuffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(buf[:end]).lower()
        body = len(buf) - end - 4
        if _CHUNKED.search(head):
            return buf.endswith(b"0\r\n\r\n") or body > self.max_body
        match = _CONTENT_LENGTH.search(head)
        length = int(match.group(1)) if match else 0
        if body >= length or length > self.max_body:
            return True
        if not conn.continued and _EXPECT_CONTINUE.search(head):
            # the client waits for this before it sends the body (curl does, for large ones)
            with contextlib.suppress(OSError):
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            conn.continued = True
        return False

    def _hand_over(self, conn: TConn) -> None:
        conn.data_ready = True
        super().enqueue_req(conn)

    def handle(self, conn: TConn) -> Any:
        """In a thread: give the parser what the loop read, then serve as gthread does."""
        buffered, conn.prebuffer = getattr(conn, "prebuffer", None), None
        if buffered:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(buffered))
        return super().handle(conn)

    # -- closing what is too slow ----------------------------------------------------

    def _stop_reading(self, conn: TConn) -> None:
        self.reading.remove(conn)
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(conn.sock)

    def _close(self, conn: TConn, response: bytes = b"") -> None:
        if response:
            with contextlib.suppress(OSError):
                conn.sock.send(response)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        while self.reading and self.reading[0].read_deadline <= now:
            conn = self.reading[0]
            self._stop_reading(conn)
            self._close(conn, _TIMEOUT_RESPONSE if conn.prebuffer else b"")

    def _cap_keepalive(self, deadline: float) -> None:
        super()._cap_keepalive(deadline)
        for conn in self.reading:  # a stopping worker doesn't wait out slow clients
            conn.read_deadline = min(conn.read_deadline, time.monotonic() + STOP_LINGER)

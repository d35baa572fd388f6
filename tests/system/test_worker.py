"""The server's worker (recommender/worker.py) against slow and odd clients, over real
sockets to `recommender serve`: no thread waits on a client that is slow to send."""

import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.ops import call, running_server

pytestmark = pytest.mark.server
READ_TIMEOUT = 3.0
SLOW_CLIENTS = 200


@pytest.fixture(scope="module")
def server(seed_index_dir):
    env = {"RECOMMENDER_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT)}
    with running_server(seed_index_dir, workers=2, env=env) as (base, _proc):
        yield base, urlsplit(base).port


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_slowloris_answers_others_and_is_closed_in_bounded_time(server):
    base, port = server
    slow = []
    for _ in range(SLOW_CLIENTS):  # half a request line each, then nothing
        sock = _connect(port)
        sock.sendall(b"GET /similar?title=Rocky HT")
        slow.append(sock)
    opened = time.monotonic()
    time.sleep(0.5)  # every one accepted and waiting
    started = time.monotonic()
    status, body = call(base + "/similar?title=Rocky&k=3", timeout=20)
    took = time.monotonic() - started
    assert status == 200 and len(body["results"]) == 3
    assert took < 1.0, f"a normal request took {took:.2f} s with {SLOW_CLIENTS} slow clients"
    # the server closes each slow connection after the read timeout, saying why
    for sock in slow:
        sock.settimeout(READ_TIMEOUT + 5)
        answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "timeout"
        sock.close()
    closed_after = time.monotonic() - opened
    assert closed_after < READ_TIMEOUT + 3, f"slow connections closed after {closed_after:.1f} s"


def test_slow_uploads_of_a_bulk_body_are_read_on_the_loop_and_timed_out(server):
    """POST /films/bulk takes 8 MiB, past the 1 MiB of other bodies: a client announcing
    3 MB and sending a byte a second held a thread for ever (7 of them froze /health)."""
    base, port = server
    slow = []
    for _ in range(12):  # more than the 2 workers' 8 threads
        sock = _connect(port)
        sock.sendall(b"POST /films/bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nContent-Length: 3000000\r\n\r\n{")
        slow.append(sock)
    opened = time.monotonic()
    for _ in range(3):
        time.sleep(0.5)
        for sock in slow:
            sock.sendall(b" ")
        started = time.monotonic()
        status, _ = call(base + "/health", timeout=20)
        took = time.monotonic() - started
        assert status == 200 and took < 1.0, f"/health took {took:.2f} s behind slow uploads"
    for sock in slow:
        sock.settimeout(READ_TIMEOUT + 5)
        answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        sock.close()
    assert time.monotonic() - opened < READ_TIMEOUT + 3


def test_a_bulk_body_over_its_limit_names_its_own_setting(server):
    _, port = server
    with _connect(port) as sock:
        sock.sendall(b"POST /films/bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (9 * 1024 * 1024))
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    assert error["setting"] == "RECOMMENDER_CATALOG_MAX_BODY_BYTES"
    assert error["limit"] == 8 * 1024 * 1024 and "8,388,608" in error["message"]


def test_a_request_sent_in_pieces_within_the_timeout_is_served(server):
    _, port = server
    body = json.dumps({"positive": ["Rocky"], "k": 2}).encode()
    with _connect(port) as sock:
        sock.sendall(b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        time.sleep(0.3)
        sock.sendall(b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        time.sleep(0.3)
        sock.sendall(body[:5])
        time.sleep(0.3)
        sock.sendall(body[5:])
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200")
    assert len(json.loads(answer.split(b"\r\n\r\n", 1)[1])["results"]) == 2


def test_expect_continue_gets_its_100_before_the_body(server):
    _, port = server
    body = json.dumps({"positive": ["Rocky"], "k": 1}).encode()
    with _connect(port) as sock:
        sock.sendall(b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Expect: 100-continue\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        answer = _read_all(sock)
    assert b"HTTP/1.1 200" in answer


def test_keep_alive_and_pipelined_requests(server):
    _, port = server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for title in ("Rocky", "Rocky II", "Lucky You"):  # one connection, kept alive
        connection.request("GET", "/similar?title=" + title.replace(" ", "+") + "&k=1")
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["query"]["resolved"]["title"] == title
    connection.close()
    with _connect(port) as sock:  # two requests in one write, the second cut short first
        sock.sendall(b"GET /films/rocky-1976 HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /films/lucky-you-2007 HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.3)
        sock.sendall(b"Connection: close\r\n\r\n")
        answer = _read_all(sock)
    assert answer.count(b"HTTP/1.1 200") == 2
    assert answer.index(b'"id":"rocky-1976"') < answer.index(b'"id":"lucky-you-2007"')


def test_an_oversized_head_is_refused(server):
    _, port = server
    with _connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000)
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431")

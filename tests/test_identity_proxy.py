"""The test proxy (bench/identity_proxy.py) in front of a server that echoes headers."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.identity_proxy import HEADER, IdentityProxy, identity_cookie, rewrite_head


class EchoHeaders(BaseHTTPRequestHandler):
    """Answers every request with its method, body and identity headers as JSON."""

    def do_GET(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._reply({"method": self.command, "body": body.decode(), "ids": self._identities()})

    do_POST = do_GET

    def _identities(self) -> list[str]:
        return [value for name, value in self.headers.items() if name.lower() == HEADER.lower()]

    def _reply(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def proxy():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), EchoHeaders)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        with IdentityProxy(f"http://127.0.0.1:{upstream.server_port}") as running:
            yield running
    finally:
        upstream.shutdown()
        upstream.server_close()


def call(proxy, headers: list[tuple[str, str]], method: str = "GET", body: str = ""):
    """One request through the proxy; the upstream's status and its JSON answer."""
    connection = http.client.HTTPConnection(proxy.url.removeprefix("http://"), timeout=10)
    try:
        connection.putrequest(method, "/_stcore/anything")
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body.encode())
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


FORGED = [(HEADER, "mallory@example.com"), ("x-forwarded-email", "m2"), ("X_Forwarded_Email", "m3")]


def test_client_identity_headers_are_stripped_without_a_cookie(proxy):
    status, answer = call(proxy, FORGED)
    assert status == 201
    assert answer["ids"] == []


def test_the_cookie_becomes_the_only_identity_header(proxy):
    cookie = identity_cookie(proxy.url, "alice@example.com")
    headers = [*FORGED, ("Cookie", f"other=1; {cookie['name']}={cookie['value']}; last=2")]
    status, answer = call(proxy, headers, method="POST", body="hello")
    assert status == 201
    assert answer == {"method": "POST", "body": "hello", "ids": ["alice@example.com"]}


def test_headers_behind_a_bare_line_feed_are_stripped_and_a_bare_cr_is_refused():
    smuggled = f"GET / HTTP/1.1\r\nAccept: */*\n{HEADER}: mallory\r\n\r\n".encode()
    assert b"mallory" not in rewrite_head(smuggled)
    assert rewrite_head(smuggled.replace(b"\n" + HEADER.encode(), b"\r" + HEADER.encode())) is None


def test_stop_closes_open_connections(proxy):
    with IdentityProxy(proxy.url) as front:
        client = socket.create_connection(("127.0.0.1", int(front.url.rsplit(":", 1)[1])))
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        assert call(front, [])[0] == 201  # a later connection done: `client` was accepted
    client.settimeout(5)
    assert client.recv(100) == b""
    client.close()

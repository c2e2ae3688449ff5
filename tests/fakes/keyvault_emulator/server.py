"""One listener: a threaded HTTP/1.1 server (TLS unless it is the plain IMDS host).

Every request is counted, then injected faults apply (before any authentication, so
they hit token requests too), then the host's app answers it.
"""
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .wire import Request, Response, json_response

_MAX_BODY = 1 << 20
_HANDSHAKE_TIMEOUT_SECONDS = 10
_IDLE_TIMEOUT_SECONDS = 120
_LOG_LOCK = threading.Lock()   # one whole line at a time from many connection threads


class HostServer(ThreadingHTTPServer):
    """Serves one host. `app` has classify(req), handle(req), fault_response(req, ...)."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, host_name: str, app, emulator, ssl_context, verbose: bool):
        self.host_name = host_name
        self.app = app
        self.emulator = emulator
        self.ssl_context = ssl_context
        self.verbose = verbose
        super().__init__(("127.0.0.1", port), RequestHandler)

    def server_bind(self):
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall
        # without DNS; the name is known.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def log(self, message: str) -> None:
        if self.verbose:
            with _LOG_LOCK:
                sys.stderr.write(f"[{self.host_name}] {message}\n")
                sys.stderr.flush()

    def handle_error(self, request, client_address):
        """A client that went away before its answer was written (a broker killed, or
        one that stopped waiting on a slow answer) is ordinary for an HTTP server: one
        verbose line, not socketserver's traceback on stderr for every such client."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, ssl.SSLEOFError)):
            self.log(f"client {client_address[0]}:{client_address[1]} went away before "
                     f"its answer: {type(error).__name__}")
            return
        super().handle_error(request, client_address)

    def finish_request(self, request, client_address):
        """Runs in the connection's thread. The TLS handshake happens here, not in the
        accept loop, so a client that fails or stalls its handshake blocks no one else."""
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        request.settimeout(_HANDSHAKE_TIMEOUT_SECONDS)
        try:
            connection = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as error:
            self.log(f"TLS handshake failed: {error}")
            return
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            _close_quietly(connection)


def _close_quietly(connection) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    connection.close()


class RequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; every response carries Content-Length."""
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT_SECONDS

    def version_string(self) -> str:
        return "keyvault-emulator"

    def do_GET(self):
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        server = self.server
        try:
            body = self._read_body()
        except ValueError as error:
            self.close_connection = True
            self._write(json_response(400, {"error": f"bad request body: {error}"}))
            return
        # Not urlsplit: it would read a '//tenant//oauth2/...' path (§9.3) as a netloc.
        path, _, query = self.path.partition("?")
        req = Request(method=self.command, path=path,
                      query=dict(urllib.parse.parse_qsl(query, keep_blank_values=True)),
                      headers=self.headers, body=body, request_id=str(uuid.uuid4()),
                      client_address=self.client_address[0])
        operation = server.app.classify(req)
        if operation is None:   # the control listener: no counts, no faults
            self._write(self._answer(req))
            return
        server.emulator.counters.add(server.host_name, operation)
        decision = server.emulator.faults.take(server.host_name, req.path)
        if decision.latency_ms:
            time.sleep(decision.latency_ms / 1000)
        if decision.drop:
            # Close the TCP connection without any response.
            self.close_connection = True
            server.log(f"{req.method} {req.path} dropped")
            return
        if decision.status:
            self._write(server.app.fault_response(req, decision.status, decision.retry_after,
                                                  forbidden=decision.forbidden))
        else:
            self._write(self._answer(req))

    def _answer(self, req: Request) -> Response:
        try:
            return self.server.app.handle(req)
        except Exception:   # an emulator bug: say so loudly, answer 500
            traceback.print_exc(file=sys.stderr)
            return json_response(500, {"error": {"code": "EmulatorBug",
                                                 "message": "unhandled exception in the emulator"}})

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        size = int(length)
        if not 0 <= size <= _MAX_BODY:
            raise ValueError("Content-Length out of range")
        return self.rfile.read(size)

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"x", 16)
            if size == 0:
                while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass   # trailers
                return b"".join(chunks)
            total += size
            if total > _MAX_BODY:
                raise ValueError("body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(16)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        self.wfile.flush()
        # Method, path (no query) and status only: never headers or bodies (secrets).
        self.server.log(f"{self.command} {self.path.partition('?')[0]} {response.status}")

    def log_request(self, code="-", size="-"):
        pass   # _write logs its own line

    def log_message(self, format, *args):
        self.server.log(format % args)

"""A tiny HTTPS server for cpprest_http_client_test (standard library only).

Usage: tiny_https_server.py CERT_FILE KEY_FILE

Listens on 127.0.0.1 on a port the kernel picks and prints "port <n>" on
stdout once ready. Exits when its stdin closes, so it cannot outlive the test
that started it, even one that crashed.

  /echo?status=N     answers N (default 200) with header X-Echo-Method and a
                     JSON body {"method", "path", "headers", "body"}
  /sleep?seconds=S   waits S seconds, then answers 200 "slept"
"""
import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Key Vault does

    def do_GET(self):
        self._route()

    def do_POST(self):
        self._route()

    def log_message(self, *args):
        pass  # keep the test output clean

    def _route(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if url.path == "/sleep":
            time.sleep(float(query.get("seconds", ["1"])[0]))
            self._answer(200, b"slept", "text/plain")
        elif url.path == "/echo":
            echo = {"method": self.command, "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
            self._answer(int(query.get("status", ["200"])[0]), json.dumps(echo).encode(),
                         "application/json", {"X-Echo-Method": self.command})
        else:
            self._answer(404, b"no such path", "text/plain")

    def _answer(self, status, payload, content_type, extra_headers=None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (extra_headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up (a deadline test)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # failed handshakes are expected in the untrusted-CA tests


def exit_when_stdin_closes():
    sys.stdin.buffer.read()
    os._exit(0)


def main():
    cert_file, key_file = sys.argv[1], sys.argv[2]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = Server(("127.0.0.1", 0), Handler)
    # Handshakes happen in the handler threads, so a stalled client cannot block accept().
    server.socket = context.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

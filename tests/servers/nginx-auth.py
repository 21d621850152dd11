#!/usr/bin/python3
# tests/servers/nginx-auth.py - the auth_http helper of nginx's mail proxy
# (tests/servers/nginx-mail.sh): a tiny HTTP responder on a Unix socket that
# accepts every session and points it at one backend.
#
#   nginx-auth.py SOCKET BACKEND_HOST BACKEND_PORT
#
# nginx asks it with a GET carrying Auth-Method, Auth-User, Auth-Protocol,
# Client-IP... headers (ngx_mail_auth_http_module); the answer is
# "Auth-Status: OK" with Auth-Server and Auth-Port. One line per request
# goes to stderr. Ends on SIGTERM.
import http.server
import os
import signal
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "check_smtp_fixup-auth/1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Auth-Status", "OK")
        self.send_header("Auth-Server", self.server.backend_host)
        self.send_header("Auth-Port", self.server.backend_port)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def address_string(self) -> str:
        return "unix"

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write("auth: %s %s %s\n" % (fmt % args, self.headers.get("Auth-Protocol"),
                                                self.headers.get("Client-IP")))
        sys.stderr.flush()


class Server(socketserver.UnixStreamServer):
    backend_host = ""
    backend_port = ""


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: nginx-auth.py SOCKET BACKEND_HOST BACKEND_PORT", file=sys.stderr)
        return 2
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    server = Server(path, Handler)
    server.backend_host, server.backend_port = sys.argv[2], sys.argv[3]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()
        os.unlink(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

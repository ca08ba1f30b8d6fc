# SPDX-License-Identifier: Apache-2.0
"""Real peers for the CurlSender test (tests/unit/notify/curl_sender_test.cpp).

Usage: peer.py DIR  — DIR holds cert.pem/key.pem. Starts
  - an aiosmtpd SMTP server on 127.0.0.1 that requires STARTTLS (and AUTH
    PLAIN/LOGIN user "vigil" / "pw" when offered), appending each message as
    a JSON line to DIR/mail.jsonl;
  - an HTTP server on 127.0.0.1: POST /ok → 204, POST /fail → 503, each
    request appended to DIR/http.jsonl (path, headers, body);
then writes "smtp_port http_port" to DIR/ports and runs until stdin closes.
"""
import http.server
import json
import os
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

d = sys.argv[1]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(os.path.join(d, "mail.jsonl"), "a") as f:
            f.write(json.dumps({
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "tls": session.ssl is not None,
                "data": envelope.content.decode("utf-8", "replace"),
            }) + "\n")
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"vigil" and auth_data.password == b"pw"
    return AuthResult(success=ok)


class Http(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        with open(os.path.join(d, "http.jsonl"), "a") as f:
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers), "body": body}) + "\n")
        self.send_response(204 if self.path == "/ok" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
smtp = Controller(Handler(), hostname="127.0.0.1", port=0, tls_context=ctx, require_starttls=True,
                  authenticator=authenticator, auth_require_tls=True)
# aiosmtpd 1.4 has no port 0 support in its readiness probe: pick a free port.
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
smtp.port = s.getsockname()[1]
s.close()
smtp.start()

httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Http)
threading.Thread(target=httpd.serve_forever, daemon=True).start()

with open(os.path.join(d, "ports.tmp"), "w") as f:
    f.write(f"{smtp.port} {httpd.server_address[1]}\n")
os.rename(os.path.join(d, "ports.tmp"), os.path.join(d, "ports"))
sys.stdin.read()
smtp.stop()
httpd.shutdown()

# SPDX-License-Identifier: Apache-2.0
"""Real receivers for notification tests: an SMTP server (python3-aiosmtpd)
that requires STARTTLS and a login, and an HTTP server that records webhook
calls and can be told to fail (a receiver that is down)."""
import email
import email.policy
import http.server
import json
import os
import subprocess
import threading
import time
import warnings

# aiosmtpd 1.4 warns on every login about an attribute it reads itself.
warnings.filterwarnings("ignore", message="Session.login_data")

from conftest import free_port


def make_tls_cert(d):
    """A CA and a server certificate for 127.0.0.1/localhost; returns (ca, cert, key)."""
    def sh(*args):
        subprocess.run(list(args), cwd=d, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
       "-keyout", "ca.key", "-out", "ca.crt")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "srv.key",
       "-out", "srv.csr")
    with open(os.path.join(d, "srv.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    sh("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
       "-days", "2", "-extfile", "srv.ext", "-out", "srv.crt")
    return tuple(os.path.join(d, n) for n in ("ca.crt", "srv.crt", "srv.key"))


class SmtpServer:
    """aiosmtpd on 127.0.0.1 that refuses mail before STARTTLS and without
    the given login. `messages` holds (envelope sender, recipients, parsed
    message, arrival time)."""

    def __init__(self, tls_cert, tls_key, user="vigil", password="relay-pass"):
        import ssl
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.port = free_port()
        self.messages = []
        self.lock = threading.Lock()
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default)
                with outer.lock:
                    outer.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg, time.time(),
                                           session.ssl is not None))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and \
                auth_data.password == password.encode()
            return AuthResult(success=ok)

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tls_cert, tls_key)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, tls_context=ctx,
                                     require_starttls=True, auth_required=True, auth_require_tls=True,
                                     authenticator=authenticator)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def wait(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.1)
        with self.lock:
            raise AssertionError("expected %d emails, got %d" % (n, len(self.messages)))


class WebhookReceiver:
    """HTTP receiver on 127.0.0.1. `calls` holds (path, headers, body bytes,
    arrival time) of accepted calls; with `down` set it answers 503 and
    records nothing but the attempt."""

    def __init__(self):
        self.port = free_port()
        self.calls, self.attempts = [], 0
        self.down = False
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    outer.attempts += 1
                    down = outer.down
                    if not down:
                        outer.calls.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                            time.time()))
                self.send_response(503 if down else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def bodies(self):
        with self.lock:
            return [json.loads(b) for _, _, b, _ in self.calls]

    def wait(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.calls) >= n:
                    return list(self.calls)
            time.sleep(0.1)
        with self.lock:
            raise AssertionError("expected %d webhook calls, got %d (attempts %d)" %
                                 (n, len(self.calls), self.attempts))

"""A Docker token server for tests: RS256 JWTs a ``docker-registry`` trusts.

Serves ``GET /token?service=&scope=`` (Basic credentials optional, ``offline_token``
yields a refresh token) and the OAuth2 refresh-token grant ``POST /token`` that
clients holding an identity token use. Runs in a thread on loopback; the engine
never uses threads, test helpers may.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SERVICE = "portside-test-registry"
ISSUER = "portside-test-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """The Docker token protocol on loopback: ``GET /token?service=&scope=``.

    Basic credentials matching ``users`` get every action they ask for; anonymous
    callers get tokens granting ``pull`` only when ``anonymous_pull`` is set. Wrong
    credentials answer 401 with a registry-style error body, as real token servers do.
    ``requests`` records (scope, account) pairs so tests can check caching.
    """

    def __init__(self, workdir: Path, users: dict[str, str], anonymous_pull: bool = False):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.users = users
        self.anonymous_pull = anonymous_pull
        self.requests: list[tuple[str, str]] = []
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> account
        self.posts = 0  # refresh-token grants served
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portside test token signer")])
        now = _utcnow()
        import datetime as dt

        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_path = workdir / "token-signer.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        """The token endpoint the registry sends clients to."""
        return f"http://127.0.0.1:{self.port}/token"

    def start(self) -> None:
        """Serve in a background thread (test code only; the engine never uses threads)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def sign(self, claims: dict[str, Any]) -> str:
        """An RS256 JWT with the signing certificate in ``x5c``."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        sig = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(sig)

    def _grant(self, account: str, scopes: list[str]) -> list[dict[str, Any]]:
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            if not account:
                actions = [a for a in actions if a == "pull"] if self.anonymous_pull else []
            if actions:
                access.append({"type": kind, "name": name, "actions": actions})
        return access

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _deny(self) -> None:
                body = json.dumps(
                    {
                        "errors": [
                            {
                                "code": "UNAUTHORIZED",
                                "message": "incorrect username or password",
                                "detail": None,
                            }
                        ]
                    }
                ).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _issue(self, account: str, service: str, scopes: list[str], refresh: bool) -> None:
                server.requests.append((" ".join(scopes), account))
                now = int(time.time())
                token = server.sign(
                    {
                        "iss": ISSUER,
                        "sub": account,
                        "aud": service,
                        "exp": now + 300,
                        "nbf": now - 10,
                        "iat": now,
                        "jti": secrets.token_hex(8),
                        "access": server._grant(account, scopes),
                    }
                )
                doc: dict[str, Any] = {"token": token, "access_token": token, "expires_in": 300}
                if refresh and account:
                    rt = "rt-" + secrets.token_hex(16)
                    server.refresh_tokens[rt] = account
                    doc["refresh_token"] = rt
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urllib.parse.urlparse(self.path)
                if url.path != "/token":
                    self.send_error(404)
                    return
                q = urllib.parse.parse_qs(url.query)
                account = ""
                auth = self.headers.get("Authorization", "")
                if auth.lower().startswith("basic "):
                    user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                    if server.users.get(user) != pw:
                        self._deny()
                        return
                    account = user
                scopes = " ".join(q.get("scope", [])).split()
                service = q.get("service", [SERVICE])[0]
                self._issue(account, service, scopes, q.get("offline_token") == ["true"])

            def do_POST(self) -> None:
                """OAuth2 refresh-token grant (what clients holding an identity token use)."""
                if urllib.parse.urlparse(self.path).path != "/token":
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                server.posts += 1
                if form.get("grant_type") != ["refresh_token"]:
                    self.send_error(400)
                    return
                account = server.refresh_tokens.get(form.get("refresh_token", [""])[0])
                if not account:
                    self._deny()
                    return
                scopes = " ".join(form.get("scope", [])).split()
                self._issue(account, form.get("service", [SERVICE])[0], scopes, False)

        return Handler


def _utcnow():  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime.now(dt.UTC)

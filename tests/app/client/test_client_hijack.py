"""The exec hijack (``Upgrade: tcp`` → 101 → raw stream) against a loopback fake engine.

The fake speaks just enough HTTP/1.1 over a unix socket: keep-alive JSON answers for
``/version``, exec create/resize/inspect, and an upgrade for exec start after which it
echoes input in upper case (TTY) or answers with multiplexed frames (no TTY).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl

import pytest
from portside.app.client import EngineClient, EngineError
from portside.app.client.streams import frame


class FakeEngine:
    def __init__(self, path: str, tls: ssl.SSLContext | None = None):
        self.path = path
        self.tls = tls
        self.url = f"unix://{path}"
        self.resizes: list[tuple[str, str]] = []
        self.exec_bodies: list[dict] = []
        self.upgrade = True
        self.server: asyncio.AbstractServer | None = None
        self.peer_certs: list[dict] = []

    async def __aenter__(self):
        if self.tls is None:
            self.server = await asyncio.start_unix_server(self._conn, self.path)
        else:
            self.server = await asyncio.start_server(self._conn, "127.0.0.1", 0, ssl=self.tls)
            port = self.server.sockets[0].getsockname()[1]
            self.url = f"tcp://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        cert = writer.get_extra_info("peercert")
        if cert:
            self.peer_certs.append(cert)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (ln.split(":", 1) for ln in lines[1:] if ln)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                path, _, query = target.partition("?")
                if path.endswith("/start") and path.startswith("/v1.47/exec/"):
                    await self._hijack(json.loads(body), headers, reader, writer)
                    return
                await self._answer(method, path, query, body, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, method, path, query, body, writer):
        status, doc = 404, {"message": "page not found"}
        if path == "/version":
            status, doc = 200, {"ApiVersion": "1.47", "MinAPIVersion": "1.24"}
        elif path == "/v1.47/containers/c1/exec":
            self.exec_bodies.append(json.loads(body))
            status, doc = 201, {"Id": "e1"}
        elif path == "/v1.47/exec/e1/resize":
            self.resizes.append(tuple(sorted(query.split("&"))))
            status, doc = 201, None
        elif path == "/v1.47/exec/e1/json":
            status, doc = 200, {"Running": False, "ExitCode": 3}
        payload = b"" if doc is None else json.dumps(doc).encode()
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()

    async def _hijack(self, body, headers, reader, writer):
        if not self.upgrade or headers.get("upgrade") != "tcp":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        # The first output travels in the same packet as the 101 headers on purpose.
        greeting = b"$ " if body["Tty"] else frame(1, b"out\n") + frame(2, b"err\n")
        writer.write(
            b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + greeting
        )
        await writer.drain()
        if not body["Tty"]:
            return
        while data := await reader.read(1024):
            writer.write(data.upper())
            await writer.drain()
        writer.write(b"[eof]")
        await writer.drain()


@pytest.fixture
async def fake(tmp_path):
    async with FakeEngine(str(tmp_path / "fake.sock")) as f:
        yield f


async def _read_until(stream, marker: bytes) -> bytes:
    got = b""
    while marker not in got:
        chunk = await asyncio.wait_for(stream.read(), 5)
        if not chunk:
            break
        got += chunk
    return got


async def test_tty_exec_is_a_two_way_raw_stream(fake):
    async with EngineClient(fake.url) as c:
        exec_id = await c.exec.create("c1", ["sh"], tty=True, console_size=(24, 80))
        assert fake.exec_bodies[-1]["Tty"] is True
        assert fake.exec_bodies[-1]["ConsoleSize"] == [24, 80]
        stream = await c.exec.start(exec_id)
        assert await _read_until(stream, b"$ ") == b"$ "
        await stream.write(b"echo hi\n")
        assert await _read_until(stream, b"ECHO HI\n") == b"ECHO HI\n"
        await c.exec.resize(exec_id, 40, 120)
        assert fake.resizes == [("h=40", "w=120")]
        stream.close_write()
        assert await _read_until(stream, b"[eof]") == b"[eof]"
        assert await stream.read() == b""
        await stream.aclose()
        assert stream.closed and await stream.read() == b""
        # The client keeps working after a hijacked connection is gone.
        assert (await c.exec.inspect(exec_id))["ExitCode"] == 3


async def test_exec_run_without_tty_demultiplexes(fake):
    async with EngineClient(fake.url) as c:
        code, out, err = await c.exec.run("c1", ["ls"])
    assert (code, out, err) == (3, b"out\n", b"err\n")


async def test_engine_that_does_not_upgrade_is_an_error(fake):
    fake.upgrade = False
    async with EngineClient(fake.url) as c:
        with pytest.raises(EngineError, match="did not switch"):
            await c.exec.start("e1")


# -- TCP with TLS (DOCKER_TLS_VERIFY / DOCKER_CERT_PATH) ---------------------------------
def _write_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as Docker lays
    them out (ca.pem, cert.pem, key.pem) plus the server's pair."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def make(cn, issuer_key, issuer_name, *, ca=False, server=False):
        key = ec.generate_private_key(ec.SECP256R1())
        b = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(issuer_name or name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if server:
            b = b.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            ).add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
        elif not ca:
            b = b.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        cert = b.sign(issuer_key or key, hashes.SHA256())
        return key, cert

    ca_key, ca = make("test CA", None, None, ca=True)
    srv_key, srv = make("engine", ca_key, ca.subject, server=True)
    cli_key, cli = make("client", ca_key, ca.subject)

    def pem_key(k):
        return k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "cert.pem").write_bytes(cli.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(pem_key(cli_key))
    (d / "server-cert.pem").write_bytes(srv.public_bytes(serialization.Encoding.PEM))
    (d / "server-key.pem").write_bytes(pem_key(srv_key))


async def test_tcp_tls_with_client_certificate_and_hijack(tmp_path):
    from portside.app.client import EngineUnreachable, default_address

    _write_pki(tmp_path)
    server_ctx = ssl.create_default_context(
        ssl.Purpose.CLIENT_AUTH, cafile=str(tmp_path / "ca.pem")
    )
    server_ctx.verify_mode = ssl.CERT_REQUIRED  # like dockerd --tlsverify
    server_ctx.load_cert_chain(tmp_path / "server-cert.pem", tmp_path / "server-key.pem")
    async with FakeEngine("", tls=server_ctx) as fake:
        env = {
            "DOCKER_HOST": fake.url,
            "DOCKER_TLS_VERIFY": "1",
            "DOCKER_CERT_PATH": str(tmp_path),
        }
        address = default_address(env)
        async with EngineClient(address) as c:
            assert c.api_version == "1.47"
            exec_id = await c.exec.create("c1", ["sh"])
            stream = await c.exec.start(exec_id)
            assert await _read_until(stream, b"$ ") == b"$ "
            await stream.write(b"over tls\n")
            assert await _read_until(stream, b"OVER TLS\n") == b"OVER TLS\n"
            await stream.aclose()
        assert fake.peer_certs and fake.peer_certs[0]["subject"] == ((("commonName", "client"),),)
        # Without the client certificate the engine refuses the handshake: said in words.
        (tmp_path / "cert.pem").unlink()
        (tmp_path / "key.pem").unlink()
        c = EngineClient(default_address(env))
        with pytest.raises(EngineUnreachable, match=r"cannot reach the engine at 127\.0\.0\.1"):
            await c.connect()
        await c.aclose()

"""``docker login``, basic auth (htpasswd) and token auth against real registries."""

from __future__ import annotations

import base64
import json

from support.images import busybox_rootfs_tar
from support.registry import Registry


def _login(engine, reg: Registry, password: str, user: str | None = None):  # type: ignore[no-untyped-def]
    return engine.docker(
        "login",
        "-u",
        user or reg.user,
        "--password-stdin",
        reg.host,
        input=password.encode(),
        check=False,
    )


def test_login_basic_wrong_then_right(engine, basic_registry):
    reg = basic_registry
    bad = _login(engine, reg, "wrong-password")
    assert bad.returncode != 0
    assert bad.stderr.strip() == (
        f'Error response from daemon: Get "http://{reg.host}/v2/": '
        "unauthorized: authentication required"
    )
    r = engine.api(
        "POST", "/auth", json={"username": "x", "password": "y", "serveraddress": reg.host}
    )
    assert r.status_code == 401
    good = _login(engine, reg, reg.password)
    assert good.returncode == 0, good.stderr
    assert "Login Succeeded" in good.stdout
    r = engine.api(
        "POST",
        "/auth",
        json={"username": reg.user, "password": reg.password, "serveraddress": reg.host},
    )
    assert r.status_code == 200
    assert r.json() == {"Status": "Login Succeeded", "IdentityToken": ""}


def test_basic_auth_push_and_pull(engine_with_busybox, basic_registry):
    e, reg = engine_with_busybox, basic_registry
    ref = f"{reg.host}/private/bb:1"
    e.docker("tag", "busybox:latest", ref)
    denied = e.docker("push", ref, check=False)
    assert denied.returncode != 0
    assert "no basic auth credentials" in denied.stdout + denied.stderr
    assert _login(e, reg, reg.password).returncode == 0
    e.docker("push", ref)
    image_id = json.loads(e.docker("image", "inspect", ref).stdout)[0]["Id"]
    e.docker("rmi", ref, "busybox:latest")
    e.docker("pull", ref)
    assert json.loads(e.docker("image", "inspect", ref).stdout)[0]["Id"] == image_id
    e.docker("logout", reg.host)
    e.docker("rmi", ref)
    anon = e.docker("pull", ref, check=False)
    assert anon.returncode != 0
    assert (
        f'Head "http://{reg.host}/v2/private/bb/manifests/1": no basic auth credentials'
        in (anon.stderr)
        or "no basic auth credentials" in anon.stderr
    )


def test_token_auth_login_pull_push(engine_with_busybox, token_registry):
    e, reg = engine_with_busybox, token_registry
    bad = _login(e, reg, "nope")
    assert bad.returncode != 0
    assert bad.stderr.strip() == (
        f'Error response from daemon: Get "http://{reg.host}/v2/": '
        "unauthorized: incorrect username or password"
    )
    assert _login(e, reg, reg.password).returncode == 0
    ref = f"{reg.host}/tok/bb:1"
    e.docker("tag", "busybox:latest", ref)
    e.docker("push", ref)
    e.docker("rmi", ref)
    e.docker("pull", ref)
    ts = reg.token_server
    assert ts is not None
    scopes = [s for s, account in ts.requests if account == reg.user]
    assert "repository:tok/bb:pull,push" in scopes
    assert "repository:tok/bb:pull" in scopes
    # Tokens are cached per scope: a push and a pull need a handful, not one per request.
    assert len(ts.requests) <= 6, ts.requests
    # Login asked for an offline token: the CLI keeps the identity token, not the
    # password, and the engine trades it for access tokens (OAuth2 refresh grant).
    stored = json.loads((e.docker_config / "config.json").read_text())["auths"][reg.host]
    assert stored.get("identitytoken", "").startswith("rt-")
    assert ts.posts >= 2
    r = e.api(
        "POST",
        "/auth",
        json={"username": reg.user, "password": reg.password, "serveraddress": reg.host},
    )
    assert r.json()["IdentityToken"].startswith("rt-")


def test_token_auth_anonymous_pull_is_denied_like_docker(engine, token_registry):
    reg = token_registry
    p = reg.pusher()
    p.push_image("secret/img", "1", [busybox_rootfs_tar()])
    p.close()
    res = engine.docker("pull", f"{reg.host}/secret/img:1", check=False)
    assert res.returncode != 0
    assert (
        f"pull access denied for {reg.host}/secret/img, repository does not exist or may "
        "require 'docker login': denied: requested access to the resource is denied"
    ) in res.stderr


def test_x_registry_auth_header_as_docker_py_sends_it(engine, basic_registry):
    reg = basic_registry
    p = reg.pusher()
    img = p.push_image("py/img", "1", [busybox_rootfs_tar()])
    p.close()
    client = engine.client()
    pulled = client.images.pull(
        f"{reg.host}/py/img",
        tag="1",
        auth_config={"username": reg.user, "password": reg.password},
    )
    assert pulled.id == img.image_id
    header = base64.urlsafe_b64encode(
        json.dumps({"username": reg.user, "password": "bad", "serveraddress": reg.host}).encode()
    ).decode()
    r = engine.api(
        "POST",
        "/images/create",
        params={"fromImage": f"{reg.host}/py/img", "tag": "1"},
        headers={"X-Registry-Auth": header},
    )
    assert r.status_code == 404
    assert r.json()["message"] == (
        f"pull access denied for {reg.host}/py/img, repository does not exist or may require "
        "'docker login': unauthorized: authentication required"
    )
    client.close()


def test_push_without_rights_is_denied_in_stream(engine_with_busybox, token_registry):
    e, reg = engine_with_busybox, token_registry
    ref = f"{reg.host}/nopush/bb:1"
    e.docker("tag", "busybox:latest", ref)
    res = e.docker("push", ref, check=False)
    assert res.returncode != 0
    assert res.stdout.startswith(f"The push refers to repository [{reg.host}/nopush/bb]")
    assert res.stderr.strip() == "denied: requested access to the resource is denied"

"""A pull of a repository that does not exist, on local registries, fails as with
dockerd: a 404 with dockerd's sentence, which docker-py maps to ImageNotFound / NotFound
and the CLI prints (``docker run`` exits 125 after "Unable to find image")."""

from __future__ import annotations

import docker
import pytest


def test_missing_repository_on_a_private_registry(engine, token_registry):
    # A registry that answers "denied" for a repository it does not have (as Docker
    # Hub does): dockerd's "pull access denied" sentence.
    reg = token_registry
    ref = f"{reg.host}/no/such-repo"
    expected = (
        f"pull access denied for {ref}, repository does not exist or may require "
        "'docker login': denied: requested access to the resource is denied"
    )
    r = engine.api("POST", "/images/create", params={"fromImage": ref, "tag": "latest"})
    assert (r.status_code, r.json()) == (404, {"message": expected})

    res = engine.docker("pull", f"{ref}:latest", check=False)
    assert res.returncode == 1
    assert res.stderr == f"Error response from daemon: {expected}\n"

    res = engine.docker("run", "--rm", f"{ref}:latest", check=False)
    assert res.returncode == 125
    assert f"Unable to find image '{ref}:latest' locally" in res.stderr
    assert expected in res.stderr

    client = engine.client()
    try:
        with pytest.raises(docker.errors.ImageNotFound) as exc:
            client.images.pull(ref, tag="latest")
        assert exc.value.status_code == 404 and expected in str(exc.value)
        with pytest.raises(docker.errors.ImageNotFound):
            client.containers.run(f"{ref}:latest", "true", remove=True)
    finally:
        client.close()
    assert engine.docker("images", "-q").stdout == ""


def test_missing_repository_on_an_open_registry(engine, registry):
    # registry:2 itself answers MANIFEST_UNKNOWN for a repository it does not have:
    # dockerd's "manifest for X not found", still a 404 (docker-py's NotFound).
    ref = f"{registry.host}/no/such-repo:latest"
    expected = f"manifest for {ref} not found: manifest unknown: manifest unknown"
    res = engine.docker("pull", ref, check=False)
    assert res.returncode == 1
    assert res.stderr == f"Error response from daemon: {expected}\n"
    client = engine.client()
    try:
        with pytest.raises(docker.errors.NotFound) as exc:
            client.images.pull(ref)
        assert exc.value.status_code == 404 and expected in str(exc.value)
    finally:
        client.close()

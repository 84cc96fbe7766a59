"""``docker commit`` with the real CLI and docker-py: the new layer (additions,
deletions as whiteouts, replaced directories), the config and its changes, pause,
events, and running the committed image."""

from __future__ import annotations

import json
import time

import pytest
from iohelp import events, uniq
from support.docker_inspect import inspect

pytestmark = pytest.mark.runtime_matrix


def test_commit_then_run(shared_engine):
    e = shared_engine
    name = uniq("src")
    e.docker(
        "run", "--name", name, "busybox", "sh", "-c",
        "echo x > /new; rm /bin/vi; rm -rf /home && mkdir /home && touch /home/h; "
        "echo y >> /etc/passwd",
    )  # fmt: skip
    repo = uniq("snap")
    try:
        out = e.docker(
            "commit", "-c", 'CMD ["cat", "/new"]', "-c", "ENV A=b", "-c", "EXPOSE 8080",
            "-c", "LABEL team=io", "-c", "WORKDIR /tmp", "-c", "USER nobody",
            "-c", "STOPSIGNAL SIGUSR1", "-c", "VOLUME /vol", "-m", "my msg", "-a", "me",
            name, f"{repo}:v1",
        ).stdout.strip()  # fmt: skip
        assert out.startswith("sha256:")
        assert e.docker("run", "--rm", f"{repo}:v1").stdout == "x\n"
        res = e.docker(
            "run", "--rm", "-u", "0", f"{repo}:v1", "sh", "-c",
            "test -e /bin/vi || echo vi-gone; ls -A /home; tail -1 /etc/passwd; echo $A; pwd",
        )  # fmt: skip
        assert res.stdout.split() == ["vi-gone", "h", "y", "b", "/tmp"]
        img = json.loads(e.docker("image", "inspect", f"{repo}:v1").stdout)[0]
        cfg = img["Config"]
        assert cfg["Cmd"] == ["cat", "/new"]
        assert "A=b" in cfg["Env"] and any(x.startswith("PATH=") for x in cfg["Env"])
        assert cfg["ExposedPorts"] == {"8080/tcp": {}}
        assert cfg["Labels"]["team"] == "io"
        assert cfg["WorkingDir"] == "/tmp" and cfg["User"] == "nobody"
        assert cfg["StopSignal"] == "SIGUSR1" and "/vol" in cfg["Volumes"]
        assert img["Comment"] == "my msg" and img["Author"] == "me"
        base = json.loads(e.docker("image", "inspect", "busybox").stdout)[0]
        assert img["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
        assert len(img["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
        hist = e.docker("history", "--no-trunc", "--format", "{{.Comment}}", f"{repo}:v1").stdout
        assert hist.splitlines()[0] == "my msg"
        assert "commit" in events(e, name, since="60s")
    finally:
        e.docker("rm", "-f", name, check=False)
        e.docker("rmi", "-f", f"{repo}:v1", check=False)


def test_commit_a_running_container_pauses_it(shared_engine):
    e = shared_engine
    name = uniq("live")
    e.docker("run", "-d", "--name", name, "busybox", "sh", "-c", "echo live > /f; sleep 300")
    repo = uniq("live")
    try:
        for _ in range(50):
            if e.docker("exec", name, "cat", "/f", check=False).stdout == "live\n":
                break
            time.sleep(0.1)
        e.docker("commit", name, repo)
        actions = events(e, name, since="60s")
        assert actions.index("pause") < actions.index("commit")
        assert "unpause" in actions
        assert inspect(e, name)["State"]["Status"] == "running"
        assert e.docker("run", "--rm", repo, "cat", "/f").stdout == "live\n"
        # --pause=false leaves it running throughout
        e.docker("commit", "--pause=false", name, f"{repo}:nopause")
        assert e.docker("run", "--rm", f"{repo}:nopause", "cat", "/f").stdout == "live\n"
    finally:
        e.docker("rm", "-f", name, check=False)
        e.docker("rmi", "-f", repo, f"{repo}:nopause", check=False)


def test_commit_errors_and_untagged(shared_engine):
    e = shared_engine
    name = uniq("err")
    e.docker("create", "--name", name, "busybox", "true")
    try:
        r = e.api("POST", "/commit", params={"container": "nope"})
        assert r.status_code == 404 and r.json()["message"] == "No such container: nope"
        r = e.api("POST", "/commit", params={"container": name, "repo": "Bad:Name"})
        assert r.status_code == 400 and "invalid reference format" in r.json()["message"]
        r = e.api("POST", "/commit", params={"container": name, "changes": "RUN ls"})
        assert r.status_code == 400
        # untagged commit of a never-started container: a dangling image
        r = e.api("POST", "/commit", params={"container": name})
        assert r.status_code == 201
        image_id = r.json()["Id"]
        img = e.api("GET", f"/images/{image_id}/json").json()
        assert img["RepoTags"] == []
        e.api("DELETE", f"/images/{image_id}")
    finally:
        e.docker("rm", "-f", name, check=False)


def test_commit_config_override_and_docker_py(shared_engine):
    e = shared_engine
    client = e.client()
    name = uniq("py")
    ctr = client.containers.run("busybox", ["sh", "-c", "echo py > /py"], name=name, detach=True)
    repo = uniq("pyimg")
    try:
        ctr.wait()
        img = ctr.commit(
            repository=repo,
            tag="t1",
            message="from py",
            conf={"Cmd": ["cat", "/py"], "Env": ["X=1"], "Labels": {"a": "b"}},
        )
        assert img.id.startswith("sha256:")
        assert client.containers.run(f"{repo}:t1", remove=True) == b"py\n"
        cfg = img.attrs["Config"]
        assert cfg["Cmd"] == ["cat", "/py"] and cfg["Labels"] == {"a": "b"}
        assert "X=1" in cfg["Env"] and any(x.startswith("PATH=") for x in cfg["Env"])
    finally:
        ctr.remove(force=True)
        client.images.remove(f"{repo}:t1", force=True)
        client.close()


def test_commit_with_pause_of_a_container_that_just_exited(shared_engine):
    # pause=true (the CLI's and docker-py's default) pauses only a running container: one
    # whose process exits between start and commit is committed as it is, as by dockerd.
    e = shared_engine
    client = e.client()
    repo = uniq("exited")
    made = []
    try:
        for i in range(25):
            c = client.containers.run("busybox", ["sh", "-c", f"echo {i} > /n"], detach=True)
            made.append(c)
            img = c.commit(repository=repo, tag=str(i), pause=True)
            assert img.id.startswith("sha256:")
        c.wait()
        assert e.docker("run", "--rm", f"{repo}:24", "cat", "/n").stdout == "24\n"
        stopped = made[0]
        assert stopped.wait()["StatusCode"] == 0
        r = e.api("POST", f"/commit?container={stopped.id}&pause=1&repo={repo}&tag=stopped")
        assert r.status_code == 201, r.text
        assert e.docker("run", "--rm", f"{repo}:stopped", "cat", "/n").stdout == "0\n"
    finally:
        for c in made:
            c.remove(force=True)
        for i in [*range(25), "stopped"]:
            e.docker("rmi", "-f", f"{repo}:{i}", check=False)
        client.close()


def test_commit_of_a_restarting_container(shared_engine):
    e = shared_engine
    name, repo = uniq("loop"), uniq("loopimg")
    e.docker(
        "run", "-d", "--name", name, "--restart", "always", "busybox", "sh", "-c",
        "echo once >> /runs; exit 1",
    )  # fmt: skip
    try:
        for i in range(10):
            e.docker("commit", name, f"{repo}:{i}")
        assert "once" in e.docker("run", "--rm", f"{repo}:9", "cat", "/runs").stdout
    finally:
        e.docker("rm", "-f", name, check=False)
        for i in range(10):
            e.docker("rmi", "-f", f"{repo}:{i}", check=False)

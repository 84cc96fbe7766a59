"""An image pulled from a registry runs: Debian bookworm-slim pushed by skopeo."""

from __future__ import annotations

from support.debian_image import debian_archive


def test_pull_debian_and_run_it(engine, registry):
    registry.skopeo_copy(f"docker-archive:{debian_archive()}", "debian:bookworm-slim")
    ref = f"{registry.host}/debian:bookworm-slim"
    engine.docker("pull", ref, timeout=300)
    res = engine.docker("run", "--rm", ref, "cat", "/etc/debian_version", timeout=120)
    assert res.stdout.strip().startswith("12.")
    res = engine.docker("run", "--rm", ref, "sh", "-c", "dpkg -l | grep -c '^ii'")
    assert int(res.stdout.strip()) > 50  # a real Debian, packages and all

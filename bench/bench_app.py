"""Desktop app benchmark: cold start, memory with 100 containers and live graphs, idle CPU.

Usage (root): .venv/bin/python bench/bench_app.py [--containers 100] [--running 10]

Starts a private portsided (the test fixture's), creates the containers, then runs the
real ``portside`` command under Xvfb (offscreen Qt if Xvfb is missing) several times:

* cold start → first painted frame (process spawn to the main window's first paint);
* RSS 10 s after start with every container listed and one container's Stats graphs open;
* CPU over 30 s of idling in that state (the stats streams of the visible running rows
  and the open graphs keep flowing, and the resource history records every running
  container: this is the app's steady state, not a blank window).

Then the same with three engines connected at once (``--engines 3``: the first engine
with the containers plus further private portsided engines, found by the app as docker
contexts in a temporary ``DOCKER_CONFIG``), beside the single-engine figures.

Prints a Markdown table with the targets (first frame ≤ 1 s, RSS ≤ 100 MiB, idle CPU ≤ 1 %).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.engine import PortsideEngine  # noqa: E402
from support.images import busybox_archive  # noqa: E402

MiB = 1024 * 1024


class Display:
    """An Xvfb server for the app (or offscreen Qt when Xvfb is not installed)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}

    def __enter__(self) -> Display:
        xvfb = shutil.which("Xvfb")
        if not xvfb:
            self.env = {"QT_QPA_PLATFORM": "offscreen"}
            return self
        for n in range(90, 120):
            if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
                break
        self.proc = subprocess.Popen(
            [xvfb, f":{n}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{n}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.env = {"DISPLAY": f":{n}", "QT_QPA_PLATFORM": "xcb"}
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)

    @property
    def name(self) -> str:
        return "Xvfb" if self.proc else "offscreen"


def app_env(display: Display, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "QT_"))}
    env.update(display.env)
    env["XDG_RUNTIME_DIR"] = str(tmp)
    env["XDG_STATE_HOME"] = str(tmp / "state")  # the resource history of this run only
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def with_contexts(env: dict[str, str], tmp: Path, engines: list[PortsideEngine]) -> dict[str, str]:
    """``env`` with a docker config whose contexts point at ``engines`` (the app lists them)."""
    config = tmp / "docker-config"
    for i, engine in enumerate(engines):
        name = f"bench-extra-{i}"
        meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
        meta.mkdir(parents=True, exist_ok=True)
        endpoint = {"Host": engine.host, "SkipTLSVerify": False}
        (meta / "meta.json").write_text(
            json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": endpoint}})
        )
    return {**env, "DOCKER_CONFIG": str(config)}


def spawn(
    engine: PortsideEngine, env: dict[str, str], tmp: Path, *extra: str
) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "portside.app", "-H", engine.host, "--no-tray",
           "--settings", str(tmp / "settings.ini"), *extra]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes], timeout: float = 60) -> str:
    _out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"portside exited {proc.returncode}: {err.decode(errors='replace')}")
    return err.decode(errors="replace")


def cold_start(engine: PortsideEngine, env: dict[str, str], tmp: Path, runs: int) -> list[float]:
    """Seconds from spawning ``portside`` to its first painted frame."""
    times = []
    for i in range(runs):
        marker = tmp / f"frame{i}"
        t0 = time.time()
        proc = spawn(engine, env, tmp, "--first-frame-file", str(marker), "--quit-after", "2")
        finish(proc)
        times.append(float(marker.read_text()) - t0)
    return times


def steady_state(
    engine: PortsideEngine, env: dict[str, str], tmp: Path, graphed: str | None
) -> dict[str, float]:
    """RSS at 10 s and CPU over the following 30 s idle: details Stats of ``graphed`` open,
    or (None) the containers table with its visible running rows sampled."""
    status = tmp / "status.json"
    extra = ["--open-container", graphed, "--tab", "Stats"] if graphed else []
    proc = spawn(engine, env, tmp, *extra, "--quit-after", "42", "--status-file", str(status))
    p = psutil.Process(proc.pid)
    time.sleep(10)
    rss = p.memory_info().rss
    cpu0 = p.cpu_times()
    t0 = time.monotonic()
    time.sleep(30)
    cpu1 = p.cpu_times()
    elapsed = time.monotonic() - t0
    finish(proc)
    used = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    st = json.loads(status.read_text())
    return {
        "engines": sum(1 for state in st.get("engines", {}).values() if state == "connected"),
        "rss_mib": rss / MiB,
        "cpu_percent": 100.0 * used / elapsed,
        "listed": st["containers"],
        "streams": len(st["stats_streams"]),
        "events": st["events_received"],
    }


def make_containers(engine: PortsideEngine, total: int, running: int) -> list[str]:
    """``total`` busybox containers, the first ``running`` of them running."""
    ids = []
    with engine_client(engine) as c:
        for i in range(total):
            body = {
                "Image": "busybox:latest",
                "Cmd": ["sleep", "86400"],
                "HostConfig": {"NetworkMode": "none"},
                "Labels": {"com.docker.compose.project": f"proj{i % 10}"} if i % 3 else {},
            }
            r = c.post(f"/containers/create?name=bench{i}", json=body)
            r.raise_for_status()
            cid = r.json()["Id"]
            if i < running:
                c.post(f"/containers/{cid}/start").raise_for_status()
            ids.append(cid)
    return ids


class engine_client:
    def __init__(self, engine: PortsideEngine) -> None:
        import httpx

        self._c = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(engine.socket)),
            base_url="http://docker",
            timeout=60,
        )

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self._c

    def __exit__(self, *exc: object) -> None:
        self._c.close()


def main() -> int:
    """Run the benchmark and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--containers", type=int, default=100)
    p.add_argument("--running", type=int, default=10)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--engines", type=int, default=3, help="engines connected at once")
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("the engine needs root")
    engine = PortsideEngine()
    extras = [PortsideEngine() for _ in range(max(0, args.engines - 1))]
    tmp = Path(tempfile.mkdtemp(prefix="bench-app-"))
    try:
        engine.start()
        engine.docker("load", "-i", str(busybox_archive()))
        for extra in extras:
            extra.start()
        with Display() as display:
            env = app_env(display, tmp)
            # Portside Machine's list lives in the bench's own (empty) place
            env["PORTSIDE_MACHINE_HOME"] = str(tmp / "machines")
            env["DOCKER_CONFIG"] = str(tmp / "no-docker-config")
            empty = cold_start(engine, env, tmp, args.runs)
            ids = make_containers(engine, args.containers, args.running)
            full = cold_start(engine, env, tmp, args.runs)
            steady = steady_state(engine, env, tmp, ids[0])
            table = steady_state(engine, env, tmp, None)
            many_env = with_contexts(env, tmp, extras)
            many_full = cold_start(engine, many_env, tmp, args.runs)
            many = steady_state(engine, many_env, tmp, ids[0])
        history = tmp / "state" / "portside" / "history.sqlite"
        history_kib = history.stat().st_size / 1024 if history.exists() else 0.0
        n = args.containers
        rows = [
            ("cold start → first frame (no containers), median",
             f"{statistics.median(empty):.2f} s", "≤ 1 s"),
            (f"cold start → first frame ({n} containers), median",
             f"{statistics.median(full):.2f} s", "≤ 1 s"),
            (f"RSS at 10 s ({steady['listed']} listed, one container's graphs open)",
             f"{steady['rss_mib']:.0f} MiB", "≤ 100 MiB"),
            (f"CPU over 30 s idle (same; {steady['streams']} stats streams)",
             f"{steady['cpu_percent']:.2f} %", "≤ 1 %"),
            (f"RSS at 10 s (containers table, {table['streams']} visible running rows)",
             f"{table['rss_mib']:.0f} MiB", "—"),
            (f"CPU over 30 s idle (containers table, {table['streams']} stats streams)",
             f"{table['cpu_percent']:.2f} %", "—"),
            (f"resource history on disk after these runs ({args.running} running recorded)",
             f"{history_kib:.0f} KiB", "≤ 50 MB"),
            (f"{args.engines} engines: cold start → first frame ({n} containers), median",
             f"{statistics.median(many_full):.2f} s", "≤ 1 s"),
            (f"{args.engines} engines: RSS at 10 s ({many['engines']} connected, "
             f"{many['listed']} listed, one container's graphs open)",
             f"{many['rss_mib']:.0f} MiB", "≤ 100 MiB"),
            (f"{args.engines} engines: CPU over 30 s idle (same)",
             f"{many['cpu_percent']:.2f} %", "≤ 1 %"),
        ]  # fmt: skip
        py = sys.version.split()[0]
        print(f"\nPortside desktop app ({display.name}, {psutil.cpu_count()} CPUs, Python {py})\n")
        print("| measure | value | target |")
        print("| --- | --- | --- |")
        for name, value, target in rows:
            print(f"| {name} | {value} | {target} |")
        print(f"\nfirst-frame runs (s): empty {[round(t, 2) for t in empty]}")
        print(f"first-frame runs (s): {n} containers {[round(t, 2) for t in full]}")
        print(f"first-frame runs (s): {args.engines} engines {[round(t, 2) for t in many_full]}")
    finally:
        for extra in extras:
            extra.cleanup()
        engine.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Portside set-up in one place: `dev.sh run` starts Portside (engine + GUI), `dev.sh test` runs the
# test suite. Both install what they need on a fresh Debian/Ubuntu machine (as root) and are fast
# when everything is already there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv="${PORTSIDE_VENV:-$here/.venv}"

# Packages the engine drives (runtime, supervisor, networking) and the GUI's system libraries.
engine_pkgs=(crun runc conmon nftables iproute2 tini)
gui_pkgs=(libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libdbus-1-3
          libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-image0
          libxcb-render-util0 libglib2.0-0)
# Test-only: images built offline, a real registry, a virtual screen, debootstrap for a Debian image,
# Debian's docker-compose (1.29, docker-py based) as one more unchanged client, dockerd (docker.io)
# as the reference engine, for Portside Machine: QEMU, qemu-img and OpenSSH's sshd; for the
# package: the desktop-entry and AppStream validators and systemd-socket-activate (systemd).
test_pkgs=(busybox-static docker-registry skopeo xvfb xauth debootstrap sqlite3 apache2-utils procps
           docker-compose docker.io qemu-system-x86 qemu-utils openssh-server openssh-client
           desktop-file-utils appstream systemd util-linux)
base_pkgs=(python3 python3-venv python3-dev gcc git ca-certificates)

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "Portside's engine manages containers, mounts and networks: run this as root (sudo $0 $*)." >&2
    exit 1
  fi
}

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Packages such as docker.io and openssh-server start their daemons when installed; none of
    # them may run on their own here (tests start private ones), so service starts are refused
    # for the duration of the install.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
    fi
    local rc=0
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
    if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
    return "$rc"
  fi
}

ensure_venv() {
  local extras="$1" stamp
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  stamp="$venv/.portside-$extras-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q -e ".[$extras]"
    touch "$stamp"
  fi
}


cmd="${1:-}"
case "$cmd" in
  run)
    need_root "$@"
    apt_install "${base_pkgs[@]}" "${engine_pkgs[@]}" "${gui_pkgs[@]}"
    ensure_venv "app,vm"
    # The app starts the bundled engine when none answers on the default socket.
    exec "$venv/bin/portside" "${@:2}"
    ;;
  test)
    need_root "$@"
    apt_install "${base_pkgs[@]}" "${engine_pkgs[@]}" "${gui_pkgs[@]}" "${test_pkgs[@]}"
    ensure_venv "app,vm,dev"
    # crun 1.8 needs a cgroup v2 hierarchy without controllers on hybrid hosts (see the script).
    bash packaging/cgroups-for-crun.sh
    "$venv/bin/ruff" check .
    "$venv/bin/ruff" format --check .
    "$venv/bin/mypy" engine app vm resources packaging/build_wheels.py packaging/build_deb.py
    export QT_QPA_PLATFORM=offscreen
    exec "$venv/bin/pytest" -q -p no:cacheprovider "${@:2}"
    ;;
  *)
    echo "usage: $0 run|test [args]" >&2
    exit 2
    ;;
esac

#!/bin/bash
# The user's path through Portside's .deb, in a clean Debian root: install, check, start
# the engine as root with -G portside, open the app from its desktop entry as a member of
# that group. Runs inside `unshare --mount --net --pid --fork` (test_deb.py): every mount,
# the engine's bridge and nftables table, and every process it starts vanish with the
# namespaces, whatever happens here.
#   deb_flow.sh CACHED_ROOT WORK_DIR DEB
# Results land in WORK_DIR/out/ for the test to read.
set -u
cached=$1 work=$2 deb=$3
out=$work/out root=$work/root
mkdir -p "$out" "$root" "$work/upper" "$work/overlay-work"

step() { # name command...: stdout+stderr to out/NAME.log, exit code to out/NAME.rc
  local name=$1; shift
  "$@" >"$out/$name.log" 2>&1
  echo $? >"$out/$name.rc"
}
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }
as_user() { # user command...: a login-less process of that user with its groups
  local user=$1; shift
  in_root setpriv --reuid "$user" --regid "$user" --init-groups \
    env HOME="/home/$user" USER="$user" XDG_RUNTIME_DIR="/tmp/$user-run" "$@"
}

mount -t overlay overlay \
  -o "lowerdir=$cached,upperdir=$work/upper,workdir=$work/overlay-work" "$root" || exit 90
mount -t proc proc "$root/proc" || exit 91
mount --rbind /sys "$root/sys" || exit 92
mount --rbind /dev "$root/dev" || exit 93
mount -t tmpfs -o mode=755 tmpfs "$root/run" || exit 94
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp" || exit 95
# The engine's data root on the host's filesystem, not on the overlay it would stack on.
mkdir -p "$work/data" "$root/var/lib/portside"
mount --bind "$work/data" "$root/var/lib/portside" || exit 96
ip link set lo up
cp "$deb" "$root/tmp/portside.deb"

step dpkg in_root dpkg -i /tmp/portside.deb
step app-version in_root portside --version
step engine-version in_root portsided --version
step verify in_root systemd-analyze verify \
  /lib/systemd/system/portside.socket /lib/systemd/system/portside.service
# On a desktop Qt loads its xcb (X11) platform plugin: every library it links against must
# come from the package's Depends (offscreen, used below, needs fewer).
step ldd-xcb in_root sh -c 'ldd /opt/portside/lib/python3*/site-packages/PySide6/Qt/plugins/platforms/libqxcb.so'
step group in_root getent group portside
step useradd in_root useradd --create-home --groups portside alice
step useradd-bob in_root useradd --create-home bob

# The engine as the service would run it, with the group flag instead of the socket unit
# (chroot itself in the background, not a shell function, so $! is the engine).
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
  portsided -G portside --log-level debug >"$out/engine.log" 2>&1 &
engine=$!
for _ in $(seq 1 600); do
  [ -S "$root/run/portside/portside.sock" ] && \
    in_root portside engine status >/dev/null 2>&1 && break
  kill -0 "$engine" 2>/dev/null || break
  sleep 0.1
done
# Names as the installed system knows them (the host's group file differs).
in_root stat -c '%a %U %G' /run/portside/portside.sock >"$out/socket.txt" 2>&1

for user in alice bob; do
  mkdir -p -m 700 "$root/tmp/$user-run" && in_root chown "$user:$user" "/tmp/$user-run"
done
step alice-status as_user alice portside engine status
step bob-status as_user bob portside engine status

# The menu's command: the desktop entry's Exec line, its field codes dropped.
exec_line=$(sed -n 's/^Exec=//p' "$root/usr/share/applications/dev.portside.Portside.desktop" \
  | sed 's/ %[fFuUdDnNickvm]//g')
echo "$exec_line" >"$out/exec.txt"
# shellcheck disable=SC2086  # the Exec line is a command line
step app as_user alice env QT_QPA_PLATFORM=offscreen $exec_line --no-tray --quit-after 6 \
  --status-file /tmp/alice-run/status.json
cp "$root/tmp/alice-run/status.json" "$out/status.json" 2>/dev/null

kill -TERM "$engine" 2>/dev/null
wait "$engine"
echo $? >"$out/engine.rc"
exit 0

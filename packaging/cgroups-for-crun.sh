#!/usr/bin/env bash
# Usage: cgroups-for-crun.sh [CGROUP_ROOT]   (default /sys/fs/cgroup; run by `dev.sh test`)
#
# crun 1.8 refuses to create containers on a cgroup v1/v2 hybrid host while the v2 hierarchy
# (/sys/fs/cgroup/unified) still holds controllers — typically hugetlb, which a v1 init left
# unmounted. The engine then falls back to runc (runtime/detect.py) and never changes the host.
# The tests must exercise crun, the runtime Portside prefers, so the test set-up mounts those
# controllers as v1 hierarchies, as a v1 init would have (the kernel moves a controller that no
# v2 cgroup uses). When that is impossible the suite runs its runtime matrix with runc alone and
# pytest's header says why.
set -uo pipefail
root="${1:-/sys/fs/cgroup}"
unified="$root/unified"
[ -e "$root/cgroup.controllers" ] && exit 0  # pure cgroup v2: crun works
[ -e "$unified/cgroup.procs" ] || exit 0      # cgroup v1 only: crun works
controllers="$(cat "$unified/cgroup.controllers" 2>/dev/null || true)"
[ -n "$controllers" ] || exit 0               # hybrid, nothing left in v2: crun works
for c in $controllers; do
  if mountpoint -q "$root/$c" 2>/dev/null; then
    echo "cgroup: $root/$c is already a mount point; $c stays in cgroup v2" >&2
    continue
  fi
  if err="$( { mkdir -p "$root/$c" && mount -t cgroup -o "$c" cgroup "$root/$c"; } 2>&1)"; then
    echo "cgroup: mounted the $c controller as cgroup v1 at $root/$c (crun 1.8 needs cgroup v2 without controllers)"
  else
    echo "cgroup: could not mount $c as cgroup v1: ${err:-unknown error}" >&2
  fi
done
left="$(cat "$unified/cgroup.controllers" 2>/dev/null || true)"
if [ -n "$left" ]; then
  echo "cgroup: $unified still holds: $left — crun cannot run containers on this host;" \
    "the engine will use runc and the tests run their runtime matrix with runc only" >&2
fi
exit 0

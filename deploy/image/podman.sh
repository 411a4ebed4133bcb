#!/bin/bash
# podman with the options a Debian host running it as root may need, here and in CI:
# - runc, because crun fails on a hybrid cgroup v1/v2 layout;
# - the cgroupfs cgroup manager, because there is no systemd to ask;
# - rlimits at or under the host's hard limits: podman's defaults (nofile 1048576) exceed them
#   and runc then fails with "error setting rlimit type 7: operation not permitted".
# Usage: deploy/image/podman.sh SUBCOMMAND ARGS... (build and run get the rlimits).
set -eu

# min(wanted, the hard limit of this shell) for ulimit option $1
capped() {
    hard=$(ulimit -H "$1")
    if [ "$hard" = unlimited ] || [ "$hard" -ge "$2" ]; then echo "$2"; else echo "$hard"; fi
}
NOFILE=$(capped -n "${HEKETIPY_PODMAN_NOFILE:-8192}")
NPROC=$(capped -u "${HEKETIPY_PODMAN_NPROC:-4096}")

case "${1:-}" in
    build | run | create)
        sub=$1
        shift
        exec podman --runtime runc --cgroup-manager cgroupfs "$sub" \
            --ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=$NPROC:$NPROC" "$@"
        ;;
    *)
        exec podman --runtime runc --cgroup-manager cgroupfs "$@"
        ;;
esac

#!/bin/bash
# `make e2e-vm`: the e2e scenario over SSH against 3 storage-node VMs with real LVM thin pools.
# Builds the VM image once (about 10 min under software emulation; cached in $VMDIR/base.raw,
# rebuilt when 02-mkimage.sh changes), boots 3 VMs (2 data disks each), writes
# $VMDIR/vm-testbed.json and runs tests/e2e/test_scenario_vm.py. VMs are stopped in all cases.
# env: VMDIR=/var/tmp/heketipy-vm MEM=640 DATA_GB=8 BOOT_LIMIT_S=900 E2E_LIMIT_S=3600
#      PYTHON=.venv/bin/python E2E_PYTEST_ARGS (e.g. "-k in_place": one test of the tier)
# Every wait is bounded; results (step and per-command timings) land in $VMDIR/pytest/e2e-ssh-vm.json.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
export VMDIR=${VMDIR:-/var/tmp/heketipy-vm}
N=3
mkdir -p "$VMDIR"
cp "$HERE"/*.sh "$HERE"/l2hub.py "$VMDIR"/
cd "$VMDIR"
t0=$(date +%s)
ts() { echo "### $(( $(date +%s) - t0 ))s: $*"; }

if [ ! -f base.raw ] || [ "$HERE/02-mkimage.sh" -nt base.raw ]; then
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
        --no-install-recommends qemu-system-x86 qemu-utils debootstrap bc >/dev/null
    rm -rf rootfs
    ./01-debootstrap.sh
    ts "rootfs debootstrapped"
    ./02-mkimage.sh
    ts "image built"
fi

trap '"$VMDIR/stop.sh" >/dev/null 2>&1 || true' EXIT   # absolute: the script cds to the repo later
trap 'exit 130' INT TERM HUP   # the EXIT trap then stops the VMs
./stop.sh >/dev/null 2>&1 || true
DISKS=2 ./03-boot.sh "$N" "${MEM:-640}" "${DATA_GB:-8}"
ts "VMs started"
# Under software emulation a boot takes 2-3 minutes (3 VMs on 2 shared cores): bounded wait.
deadline=$(( $(date +%s) + ${BOOT_LIMIT_S:-900} ))
wait_for() {  # wait_for NODE DESCRIPTION COMMAND
    until ./ssh.sh "$1" "$3" >/dev/null 2>&1; do
        if [ "$(date +%s)" -gt "$deadline" ]; then
            echo "node$1: $2 not up after ${BOOT_LIMIT_S:-900}s; console tail:" >&2
            tail -20 "run/node$1.console" >&2
            exit 1
        fi
        sleep 2
    done
}
for i in $(seq 1 $N); do wait_for "$i" sshd true; done
ts "sshd answering on all nodes"
for i in $(seq 1 $N); do wait_for "$i" glusterd 'gluster --mode=script pool list'; done
ts "glusterd answering on all nodes"

# The image's host keys are recorded now (trust on first use, inside this test harness only).
: >known_hosts
for i in $(seq 1 $N); do
    ssh-keyscan -p 2222 -t ed25519 "127.0.0.1$i" 2>/dev/null >>known_hosts
done
[ "$(grep -c ssh-ed25519 known_hosts)" -eq "$N" ] || { echo "ssh-keyscan missed a node" >&2; exit 1; }
python3 - "$VMDIR" "$N" <<'PY'
import json, sys
vmdir, n = sys.argv[1], int(sys.argv[2])
nodes = [{"name": f"node{i}", "manage": f"127.0.0.1{i}", "storage": f"10.99.0.1{i}", "zone": i,
          "devices": ["/dev/vdb", "/dev/vdc"], "holder_pid": 0,
          "faults_dir": "/run/heketipy-faults"} for i in range(1, n + 1)]
json.dump({"kind": "vm", "nodes": nodes,
           "ssh": {"user": "root", "port": 2222, "keyfile": f"{vmdir}/id_ed25519",
                   "known_hosts": f"{vmdir}/known_hosts",
                   "lvm_wrapper": "/usr/local/sbin/heketipy-fault-wrapper"}},
          open(f"{vmdir}/vm-testbed.json", "w"), indent=1)
PY
cd "$REPO"
HEKETIPY_E2E_VM="$VMDIR/vm-testbed.json" timeout -s INT -k 120 "${E2E_LIMIT_S:-3600}" \
    "${PYTHON:-.venv/bin/python}" -m pytest -q -p no:cacheprovider --basetemp="$VMDIR/pytest" \
    -m e2e tests/e2e/test_scenario_vm.py ${E2E_PYTEST_ARGS:-}
ts "e2e scenario over SSH on VMs passed"
"$VMDIR/stop.sh" >/dev/null
ts "VMs stopped"

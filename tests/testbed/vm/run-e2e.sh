#!/bin/bash
# `make e2e-vm`: the e2e scenario over SSH against 3 storage-node VMs with real LVM thin pools.
# Builds the VM image once (about 10 min under software emulation; cached in $VMDIR/base.raw,
# rebuilt when 02-mkimage.sh changes), boots 3 VMs (2 data disks each), writes
# $VMDIR/vm-testbed.json and runs tests/e2e/test_scenario_vm.py. VMs are stopped in all cases.
# env: VMDIR=/var/tmp/heketipy-vm MEM=640 DATA_GB=8
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
    ./02-mkimage.sh
    ts "image built"
fi

trap './stop.sh >/dev/null 2>&1 || true' EXIT
./stop.sh >/dev/null 2>&1 || true
DISKS=2 ./03-boot.sh "$N" "${MEM:-640}" "${DATA_GB:-8}"
for i in $(seq 1 $N); do
    until ./ssh.sh "$i" true 2>/dev/null; do sleep 1; done
    until ./ssh.sh "$i" 'gluster --mode=script pool list >/dev/null 2>&1'; do sleep 1; done
done
ts "VMs booted, sshd and glusterd answering"

# The image's host keys are recorded now (trust on first use, inside this test harness only).
: >known_hosts
for i in $(seq 1 $N); do
    ssh-keyscan -p 2222 -t ed25519 "127.0.0.1$i" 2>/dev/null >>known_hosts
done
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
HEKETIPY_E2E_VM="$VMDIR/vm-testbed.json" .venv/bin/python -m pytest -q -p no:cacheprovider \
    -m e2e tests/e2e/test_scenario_vm.py
ts "e2e scenario over SSH on VMs passed"

#!/bin/bash
# Boot N storage-node VMs (default 3) from base.raw via qcow2 overlays.
#   host -> node N ssh:  127.0.0.1:220N, and 127.0.0.1N:2222 (one port for all nodes, as
#                        heketipy's sshexec.port needs; slirp user net, restrict=on, hostfwd)
#   node <-> node:       10.99.0.1N/24 on a private L2 (UDP socket netdev + l2hub.py on loopback)
# usage: [DISKS=k] 03-boot.sh [N] [MEM_MB] [DATA_GB]     (k data disks per VM -> /dev/vdb, vdc, ...)
set -euo pipefail
cd ${VMDIR:-/var/tmp/heketipy-vm}
N=${1:-3}; MEM=${2:-768}; DATA_GB=${3:-10}; DISKS=${DISKS:-2}
# ACCEL=kvm needs a KVM that runs unmodified guests (VT-x/AMD-V); ACCEL=tcg = software emulation
ACCEL=${ACCEL:-tcg}
if [ "$ACCEL" = kvm ]; then ACC="-machine q35,accel=kvm -cpu host"; else ACC="-machine q35 -accel tcg,thread=multi,tb-size=64 -cpu max"; fi
HUBPORT=10000
mkdir -p run
ports=""; for i in $(seq 1 $N); do ports="$ports $((HUBPORT+i))"; done
if ! { [ -f run/l2hub.pid ] && kill -0 "$(cat run/l2hub.pid)" 2>/dev/null; }; then
  setsid python3 l2hub.py $HUBPORT $ports > run/l2hub.log 2>&1 < /dev/null &
  echo $! > run/l2hub.pid
fi
for i in $(seq 1 $N); do
  rm -f run/node$i-root.qcow2 run/node$i-data*.raw run/node$i.console
  qemu-img create -q -f qcow2 -F raw -b ${VMDIR:-/var/tmp/heketipy-vm}/base.raw run/node$i-root.qcow2
  DRV=""
  for d in $(seq 1 $DISKS); do
    truncate -s ${DATA_GB}G run/node$i-data$d.raw      # sparse brick disk(s) -> /dev/vdb, /dev/vdc, ...
    DRV="$DRV -drive file=run/node$i-data$d.raw,format=raw,if=virtio,cache=unsafe,discard=unmap"
  done
  qemu-system-x86_64 -name node$i $ACC -smp 1 -m $MEM \
    -nodefaults -no-user-config -display none \
    -kernel vmlinuz -initrd initrd.img \
    -append "root=/dev/vda rw console=ttyS0 quiet mitigations=off net.ifnames=0 vmnode.id=$i systemd.hostname=node$i systemd.machine_id=$(printf '%032x' $((0xfeed0000+i)))" \
    -drive file=run/node$i-root.qcow2,format=qcow2,if=virtio,cache=unsafe,discard=unmap \
    $DRV \
    -netdev user,id=u0,restrict=on,hostfwd=tcp:127.0.0.1:$((2200+i))-:22,hostfwd=tcp:127.0.0.1$i:2222-:22 \
    -device virtio-net-pci,netdev=u0,mac=52:54:00:aa:00:0$i \
    -netdev socket,id=l2,udp=127.0.0.1:$HUBPORT,localaddr=127.0.0.1:$((HUBPORT+i)) \
    -device virtio-net-pci,netdev=l2,mac=52:54:00:bb:00:0$i \
    -device virtio-rng-pci \
    -serial file:run/node$i.console -monitor none \
    -daemonize -pidfile run/node$i.pid
done
echo "started: $(cat run/node*.pid | tr '\n' ' ') hub=$(cat run/l2hub.pid)"

#!/bin/bash
# heketipy's multi-node GlusterFS testbed on ONE Linux host (root only).
#
# Each storage node is a network namespace (10.99.0.I on a bridge living in its own namespace:
# nothing is added to the host's network) plus a private mount+UTS namespace holding its own
# /run, /etc (an overlay: fstab edits stay private), /var/lib/glusterd, /var/log/glusterfs,
# /var/lib/heketi and /dev/mapper. Every node runs a real glusterd and sshd, and has
# $TESTBED_DEVICES_PER_NODE sparse loop-backed disks for heketipy to turn into PVs/VGs.
# The kernel has no device-mapper, so a test-only thin-LVM shim (lvm_shim.py) is bind-mounted over
# /usr/sbin/lvm inside the nodes: PVs and VGs are real, thin pools are real (inactive) LVs,
# thin LVs are loop-backed sparse images with real XFS. systemctl is shimmed for `glusterd` only.
# A client namespace (10.99.0.100) is where the heketipy server runs; nsforward.py makes it
# reachable from the host at 127.0.0.1:<port> (see "heketi_url" in the JSON).
#
# usage: testbed.sh up          clear leftovers, start everything, write $TESTBED_DIR/testbed.json
#        testbed.sh down        remove everything `up` made (also after a failed or partial up)
#        testbed.sh exec I CMD  run CMD inside node I (1-based)
#        testbed.sh client CMD  run CMD in the client namespace (own mount namespace, /mnt private)
#        testbed.sh json        print the description
# env:   TESTBED_NODES=3 TESTBED_DEVICES_PER_NODE=2 TESTBED_DEVICE_GB=16
#        TESTBED_DIR=/tmp/heketipy-testbed TESTBED_NET=10.99.0 TESTBED_PREFIX=hktb
#
# Kube hook contract: if tests/testbed/kube_hook.sh exists, `up` sources it after the nodes are
# ready and calls `kube_up` if it defines it; `down` sources it and calls `kube_down` first.
# The hook may use: $BASE $N $NET $CLIENT_NS (netns name; the heketipy server runs there, so
# anything it must reach listens on a 10.99.0.x address, e.g. 10.99.0.100), nx I CMD... (run in
# node I), holder I (node I's holder pid), tb_track_pid PID (killed by `down`), tb_forward
# TARGET_HOST TARGET_PORT (prints a 127.0.0.1 port forwarding into the client namespace).
# It reports by writing one JSON object to $BASE/kube.json, e.g.
#   {"api_url": "http://10.99.0.100:6443", "namespace": "default",
#    "pods": {"node1": "glusterfs-node1", ...}, ...}
# which appears as the "kube" key of testbed.json ("kube": null when there is no hook).
set -eEuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
N=${TESTBED_NODES:-3}
DEVICES=${TESTBED_DEVICES_PER_NODE:-2}
DEVICE_GB=${TESTBED_DEVICE_GB:-16}
BASE=${TESTBED_DIR:-/tmp/heketipy-testbed}
NET=${TESTBED_NET:-10.99.0}
P=${TESTBED_PREFIX:-hktb}
SW=$P-sw
CLIENT_NS=$P-cl
CLIENT_ADDR=$NET.100
API_PORT=8080
JSON=$BASE/testbed.json

log() { echo "[$(date +%T.%3N)] testbed: $*" >&2; }
holder() { cat "$BASE/n$1/holder.pid"; }
nx() { local i=$1; shift; nsenter -t "$(holder "$i")" -m -n -u -- "$@"; }
cx() { nsenter -t "$(cat "$BASE/client/holder.pid")" -m -n -u -- "$@"; }
tb_track_pid() { mkdir -p "$BASE/pids"; echo "$1" >"$BASE/pids/$1.pid"; }

wait_for() { # wait_for SECONDS CMD... : retry CMD until it succeeds
    local t=$1; shift; local end=$((SECONDS + t))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || { log "timeout waiting for: $*"; return 1; }
        sleep 0.2
    done
}

tb_forward() { # tb_forward HOST PORT -> prints the host port that reaches HOST:PORT in CLIENT_NS
    local file; file=$(mktemp "$BASE/forward.XXXXXX")
    rm -f "$file"
    setsid python3 "$HERE/nsforward.py" "/run/netns/$CLIENT_NS" "$1" "$2" "$file" \
        </dev/null >>"$BASE/forward.log" 2>&1 &
    tb_track_pid $!
    wait_for 10 test -s "$file"
    cat "$file"
}

guard_base() {
    case "$BASE" in
        ""|/|/tmp|/var|/var/tmp|/root|/home) echo "refusing TESTBED_DIR=$BASE" >&2; exit 2 ;;
    esac
}

# A holder process owns a node's (or the client's) mount+UTS namespaces inside its netns.
start_holder() { # start_holder NETNS DIR SETUP-SCRIPT
    local ns=$1 d=$2 setup=$3
    setsid ip netns exec "$ns" unshare --mount --uts --propagation private \
        sh -c "$setup
               exec sleep infinity" </dev/null >"$d/holder.log" 2>&1 &
    echo $! >"$d/holder.pid"
}

holder_ready() { # the holder has exec'd sleep, i.e. its setup succeeded
    local pid; pid=$(cat "$1/holder.pid")
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$(command -v sleep)")" ]
}

add_veth() { # add_veth NETNS IFNAME ADDR
    ip -n $SW link add "$2" type veth peer name eth0 netns "$1"
    ip -n $SW link set "$2" master br0 up
    ip -n "$1" link set lo up
    ip -n "$1" addr add "$3/24" dev eth0
    ip -n "$1" link set eth0 up
}

write_ssh_files() {
    mkdir -p "$BASE/ssh"
    ssh-keygen -q -t ed25519 -N '' -C heketipy-testbed-host -f "$BASE/ssh/host_ed25519"
    ssh-keygen -q -t ed25519 -N '' -C heketipy-testbed -f "$BASE/ssh/id_ed25519"
    cp "$BASE/ssh/id_ed25519.pub" "$BASE/ssh/authorized_keys"
    : >"$BASE/ssh/known_hosts"
    for i in $(seq 1 "$N"); do
        echo "$NET.$i $(cut -d' ' -f1,2 "$BASE/ssh/host_ed25519.pub")" >>"$BASE/ssh/known_hosts"
    done
    printf '%s\n' "Port 22" "HostKey $BASE/ssh/host_ed25519" \
        "AuthorizedKeysFile $BASE/ssh/authorized_keys" \
        "PermitRootLogin prohibit-password" "PasswordAuthentication no" \
        "KbdInteractiveAuthentication no" "UsePAM no" "StrictModes no" "UseDNS no" \
        "MaxSessions 32" "MaxStartups 64" "PidFile /run/sshd.pid" >"$BASE/ssh/sshd_config"
}

write_node_json() { # write_node_json I DEVICE...
    local i=$1; shift
    python3 - "$BASE/n$i/node.json" "node$i" "$BASE" "$i" "$@" <<'PY'
import json, sys
path, name, base, i, *devices = sys.argv[1:]
json.dump({"name": name, "devices": devices, "real_lvm": f"{base}/bin/lvm",
           "state_dir": f"{base}/n{i}/lvm", "faults_dir": f"{base}/n{i}/faults"},
          open(path, "w"), indent=1)
PY
}

up() {
    guard_base
    down_quietly
    mkdir -p "$BASE/bin" "$BASE/client" "$BASE/pids"
    touch "$BASE/.heketipy-testbed"
    cp "$(readlink -f /usr/sbin/lvm)" "$BASE/bin/lvm"
    install -m 755 "$HERE/lvm_shim.py" "$BASE/bin/lvm-shim"
    install -m 755 "$HERE/systemctl_shim.sh" "$BASE/bin/systemctl"
    # Mount points the node namespaces need (empty directories; removed again by `down`).
    for dir in /dev/mapper /var/lib/heketi; do
        if [ ! -d "$dir" ]; then mkdir -p "$dir"; echo "$dir" >>"$BASE/created-dirs"; fi
    done
    write_ssh_files

    ip netns add $SW
    ip -n $SW link set lo up
    ip -n $SW link add br0 type bridge
    ip -n $SW link set br0 up
    ip netns add "$CLIENT_NS"
    add_veth "$CLIENT_NS" vcl "$CLIENT_ADDR"
    mkdir -p "$BASE/client/log"
    start_holder "$CLIENT_NS" "$BASE/client" "hostname client
        mount -t tmpfs -o mode=755 tmpfs /mnt
        mount --bind $BASE/client/log /var/log/glusterfs"

    local systemctl_bind=""
    [ -e /usr/bin/systemctl ] && systemctl_bind="mount --bind $BASE/bin/systemctl /usr/bin/systemctl"
    for i in $(seq 1 "$N"); do
        local ns=$P-n$i d=$BASE/n$i devices=()
        mkdir -p "$d/lib" "$d/log" "$d/heketi" "$d/lvm" "$d/faults"
        for j in $(seq 1 "$DEVICES"); do
            truncate -s "${DEVICE_GB}G" "$d/disk$j.img"
            devices+=("$(losetup -f --show "$d/disk$j.img")")
        done
        write_node_json "$i" "${devices[@]}"
        ip netns add "$ns"
        add_veth "$ns" "vn$i" "$NET.$i"
        # a fresh glusterd state dir = what the package ships (hooks, groups). /root is an empty
        # tmpfs, as on a fresh storage node: bash sources ~/.bashrc for every SSH command, and a
        # developer's (pyenv init: ~100 processes) made each command cost 300 ms instead of 5.
        cp -a /var/lib/glusterd/hooks /var/lib/glusterd/groups "$d/lib/" 2>/dev/null || true
        start_holder "$ns" "$d" "set -e
            hostname node$i
            mount -t tmpfs -o mode=755 tmpfs /run
            mkdir -p /run/gluster /run/lock /run/sshd /run/testbed/etc-upper /run/testbed/etc-work
            cp $d/node.json /run/testbed/node.json
            mount -t overlay overlay -o lowerdir=/etc,upperdir=/run/testbed/etc-upper,workdir=/run/testbed/etc-work /etc
            mount --bind $d/lib /var/lib/glusterd
            mount --bind $d/log /var/log/glusterfs
            mount --bind $d/heketi /var/lib/heketi
            mount -t tmpfs -o mode=755 tmpfs /dev/mapper
            mount --bind $BASE/bin/lvm-shim /usr/sbin/lvm
            mount -t tmpfs -o mode=700 tmpfs /root
            $systemctl_bind"
    done
    wait_for 10 holder_ready "$BASE/client"
    for i in $(seq 1 "$N"); do
        wait_for 10 holder_ready "$BASE/n$i" || { cat "$BASE/n$i/holder.log" >&2; return 1; }
        nx "$i" glusterd -p /run/glusterd.pid -l /var/log/glusterfs/glusterd.log
        nx "$i" /usr/sbin/sshd -f "$BASE/ssh/sshd_config" -o "ListenAddress=$NET.$i"
    done
    for i in $(seq 1 "$N"); do
        wait_for 60 nx "$i" gluster --mode=script pool list
        wait_for 30 cx bash -c "exec 3<>/dev/tcp/$NET.$i/22"
    done
    log "glusterd and sshd up on $N nodes"

    local port; port=$(tb_forward "$CLIENT_ADDR" "$API_PORT")
    if [ -f "$HERE/kube_hook.sh" ]; then
        # shellcheck source=/dev/null
        source "$HERE/kube_hook.sh"
        if declare -F kube_up >/dev/null; then kube_up; fi
    fi
    write_json "$port"
    log "description in $JSON"
}

write_json() {
    python3 - "$JSON" "$BASE" "$N" "$NET" "$P" "$CLIENT_NS" "$CLIENT_ADDR" "$API_PORT" "$1" \
        "$DEVICE_GB" <<'PY'
import json, os, sys
path, base, n, net, prefix, client_ns, client_addr, api_port, fwd, device_gb = sys.argv[1:]
nodes = []
for i in range(1, int(n) + 1):
    node = json.load(open(f"{base}/n{i}/node.json"))
    nodes.append({
        "name": f"node{i}", "netns": f"{prefix}-n{i}", "zone": i,
        "holder_pid": int(open(f"{base}/n{i}/holder.pid").read()),
        "manage": f"{net}.{i}", "storage": f"{net}.{i}",
        "devices": node["devices"], "device_size_gb": int(device_gb),
        "faults_dir": node["faults_dir"], "lvm_state_dir": node["state_dir"],
        "fstab": "/etc/fstab",
    })
kube = None
if os.path.exists(f"{base}/kube.json"):
    kube = json.load(open(f"{base}/kube.json"))
description = {
    "base": base,
    "network": f"{net}.0/24",
    "ssh": {"user": "root", "port": 22, "keyfile": f"{base}/ssh/id_ed25519",
            "known_hosts": f"{base}/ssh/known_hosts"},
    "client": {"netns": client_ns, "netns_path": f"/run/netns/{client_ns}",
               "address": client_addr,
               "holder_pid": int(open(f"{base}/client/holder.pid").read())},
    "heketi_listen": {"host": client_addr, "port": int(api_port)},
    "heketi_url": f"http://127.0.0.1:{fwd}",
    "nodes": nodes,
    "kube": kube,
}
with open(path + ".tmp", "w") as handle:
    json.dump(description, handle, indent=2)
os.replace(path + ".tmp", path)
PY
}

netns_inode() { stat -L -c %i "/run/netns/$1" 2>/dev/null; }

kill_netns_processes() { # kill every process living in netns $1 (all were started by us)
    local inode; inode=$(netns_inode "$1") || return 0
    [ -n "$inode" ] || return 0
    local sig pid
    for sig in TERM KILL; do
        for pid in /proc/[0-9]*; do
            pid=${pid#/proc/}
            [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "net:[$inode]" ] && kill -s $sig "$pid" 2>/dev/null
        done
        [ $sig = TERM ] && sleep 1
    done
    return 0
}

down() {
    guard_base
    set +e
    if [ -f "$HERE/kube_hook.sh" ]; then
        # shellcheck source=/dev/null
        source "$HERE/kube_hook.sh"
        if declare -F kube_down >/dev/null; then kube_down; fi
    fi
    for f in "$BASE"/pids/*.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-"); do
        # lazily unmount FUSE clients first so killing glusterfs does not leave hung mounts
        if [ -n "$(netns_inode "$ns")" ]; then
            for pid in /proc/[0-9]*; do
                pid=${pid#/proc/}
                if [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "net:[$(netns_inode "$ns")]" ] &&
                   [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ]; then
                    nsenter -t "$pid" -m -- sh -c \
                        'for m in $(grep " fuse.glusterfs " /proc/mounts | cut -d" " -f2); do umount -l "$m"; done' 2>/dev/null
                fi
            done
        fi
        kill_netns_processes "$ns"
    done
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-"); do
        ip netns del "$ns" 2>/dev/null
    done
    # /dev/VG/LV nodes the LVM shim made for active thin LVs (/dev is the host's), then their VG dirs
    local record name
    for record in "$BASE"/n*/lvm/lvs/*@*.json; do
        [ -f "$record" ] || continue
        name=$(basename "$record" .json)
        case "$name" in .*|*/*) continue ;; esac
        rm -f "/dev/${name%%@*}/${name#*@}"
        rmdir "/dev/${name%%@*}" 2>/dev/null
    done
    # loop devices backed by files under BASE: disks and thin-LV images (retry while busy)
    local attempt loop
    for attempt in 1 2 3 4 5; do
        local busy=0
        while read -r loop file; do
            case "$file" in
                "$BASE"/*) losetup -d "$loop" 2>/dev/null || busy=1 ;;
            esac
        done < <(losetup -l -n -O NAME,BACK-FILE 2>/dev/null)
        [ $busy = 0 ] && break
        sleep 1
    done
    if [ -f "$BASE/created-dirs" ]; then
        # Not while another testbed (other prefix) still mounts over it in its namespaces:
        # removing a directory lazily unmounts what other mount namespaces have on it.
        while read -r dir; do
            grep -qs " $dir " /proc/[0-9]*/mountinfo || rmdir "$dir" 2>/dev/null
        done <"$BASE/created-dirs"
    fi
    if [ -f "$BASE/.heketipy-testbed" ]; then rm -rf "$BASE"; fi
    set -e
    return 0
}

down_quietly() { down >/dev/null 2>&1 || true; }

case "${1:-}" in
    up) shift; t0=$SECONDS
        trap 'rc=$?; trap - ERR; log "up failed (exit $rc) at line $LINENO; cleaning up"; down; exit 1' ERR
        up
        trap - ERR
        log "up took $((SECONDS - t0)) s" ;;
    down) down ;;
    exec) shift; i=$1; shift; nx "$i" "$@" ;;
    client) shift; cx "$@" ;;
    json) cat "$JSON" ;;
    *) echo "usage: $0 up|down|exec I CMD...|client CMD...|json" >&2; exit 2 ;;
esac

# shellcheck shell=bash
# Kubernetes part of the testbed, sourced by tests/testbed/testbed.sh (see its "Kube hook
# contract"): `up` calls kube_up once the nodes are ready, `down` calls kube_down first.
#
# kube_up starts the fake Kubernetes API server (fake_apiserver.py) inside the client namespace
# $CLIENT_NS, where the heketipy server runs, listening on $NET.100. It serves one GlusterFS pod
# per node: "glusterfs-node<I>" in namespace "glusterfs", labelled glusterfs-node=pod, with
# spec.nodeName = the node's manage hostname ($NET.<I>); a command exec'd in it runs inside node
# I's namespaces (nsenter into the node's holder process). heketipy reaches it with
#   {"executor": "kubernetes", "kubeexec": {"gluster_daemonset": true, "namespace": "glusterfs"}}
# and KUBECONFIG=<kube.kubeconfig>. It reports in $BASE/kube.json (testbed.json's "kube"):
#   {"api_url", "host_api_url" (127.0.0.1 forward from the host), "token", "namespace",
#    "kubeconfig", "pid", "pod_label", "pods": {manage host: pod}, "nodes": {manage host: node}}
# kube_down stops the server (also after a failed or partial up; `down` kills tracked pids too).
#
# Uses from testbed.sh: BASE N NET CLIENT_NS holder tb_track_pid tb_forward. Optional: PYTHON.

KUBE_HOOK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

_kube_python() {
    if [ -n "${PYTHON:-}" ]; then
        echo "$PYTHON"
    elif [ -x "$KUBE_HOOK_DIR/../../.venv/bin/python" ]; then
        echo "$KUBE_HOOK_DIR/../../.venv/bin/python"  # the fake needs aiohttp
    else
        echo python3
    fi
}

kube_up() {
    local dir=$BASE/kube token py i pid url port
    mkdir -p "$dir"
    rm -f "$dir/url" "$BASE/kube.json"
    token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    py=$(_kube_python)
    {
        echo '{"nodes": ['
        for i in $(seq 1 "$N"); do
            [ "$i" -gt 1 ] && echo ','
            printf '{"name": "node%s", "manage": "%s.%s", "storage": "%s.%s", "holder_pid": %s}' \
                "$i" "$NET" "$i" "$NET" "$i" "$(holder "$i")"
        done
        echo ']}'
    } >"$dir/nodes.json"
    setsid ip netns exec "$CLIENT_NS" "$py" "$KUBE_HOOK_DIR/fake_apiserver.py" \
        --host "$NET.100" --port 0 --token "$token" \
        --testbed-json "$dir/nodes.json" --testbed-base "$BASE" \
        --kubeconfig "$dir/kubeconfig" --kube-json "$dir/kube.json" --url-file "$dir/url" \
        </dev/null >"$dir/apiserver.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/apiserver.pid"
    tb_track_pid "$pid"
    for i in $(seq 1 150); do
        [ -s "$dir/url" ] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "fake Kubernetes API server failed to start:" >&2
            tail -n 20 "$dir/apiserver.log" >&2
            return 1
        fi
        sleep 0.1
    done
    if [ ! -s "$dir/url" ]; then
        echo "fake Kubernetes API server did not come up in 15 s" >&2
        tail -n 20 "$dir/apiserver.log" >&2
        return 1
    fi
    url=$(cat "$dir/url")
    port=${url##*:}
    local forwarded
    forwarded=$(tb_forward "$NET.100" "$port")
    "$py" - "$dir/kube.json" "$BASE/kube.json" "http://127.0.0.1:$forwarded" <<'PY'
import json, os, sys
source, target, host_url = sys.argv[1:]
kube = json.load(open(source))
kube["host_api_url"] = host_url
with open(target + ".tmp", "w") as handle:
    json.dump(kube, handle, indent=2)
os.replace(target + ".tmp", target)
PY
    echo "[kube] fake API server at $url (host: 127.0.0.1:$forwarded), pods glusterfs/glusterfs-node<I>" >&2
}

kube_down() {
    local dir=${BASE:?}/kube pid i
    if [ -f "$dir/apiserver.pid" ]; then
        pid=$(cat "$dir/apiserver.pid")
        if kill "$pid" 2>/dev/null; then
            for i in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null
        fi
    fi
    rm -rf "$dir" "$BASE/kube.json"
    return 0
}

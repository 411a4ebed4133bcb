#!/bin/sh
# Test-only systemctl for testbed nodes (bind-mounted over /usr/bin/systemctl inside a node's
# mount namespace; a node has no systemd). Knows one unit, glusterd, started by testbed.sh with
# its pid file at /run/glusterd.pid.
quiet=0; verb=""; unit=""
for word in "$@"; do
    case "$word" in
        -q|--quiet) quiet=1 ;;
        --no-pager|--no-block|-l|--full) ;;
        -*) ;;
        *) if [ -z "$verb" ]; then verb=$word; else unit=${word%.service}; fi ;;
    esac
done
running() { [ -f /run/glusterd.pid ] && kill -0 "$(cat /run/glusterd.pid)" 2>/dev/null; }
if [ "$unit" != glusterd ]; then
    echo "testbed systemctl: unit ${unit:-?} is not managed here" >&2
    exit 4
fi
case "$verb" in
    status|is-active)
        if running; then
            [ "$quiet" = 1 ] || { [ "$verb" = status ] && echo "* glusterd.service - active (running)" || echo active; }
            exit 0
        fi
        [ "$quiet" = 1 ] || { [ "$verb" = status ] && echo "* glusterd.service - inactive (dead)" || echo inactive; }
        exit 3 ;;
    start)
        running || glusterd -p /run/glusterd.pid -l /var/log/glusterfs/glusterd.log ;;
    stop)
        running && kill "$(cat /run/glusterd.pid)"; rm -f /run/glusterd.pid ;;
    restart)
        running && kill "$(cat /run/glusterd.pid)"; sleep 1
        glusterd -p /run/glusterd.pid -l /var/log/glusterfs/glusterd.log ;;
    *) echo "testbed systemctl: $verb is not supported" >&2; exit 1 ;;
esac

#!/bin/bash
# runs inside a private mount namespace
set -x
D=/tmp/cap/node
ip link set lo up; ip addr add 192.0.2.10/32 dev lo
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/gluster /run/lock $D/lib $D/log $D/bricks
cp -a /var/lib/glusterd/hooks /var/lib/glusterd/groups $D/lib/ 2>/dev/null
mount --bind $D/lib /var/lib/glusterd
mount --bind $D/log /var/log/glusterfs
glusterd -p /run/glusterd.pid -l /var/log/glusterfs/glusterd.log
sleep 3
G="gluster --mode=script --timeout=600"
O=/tmp/cap/out
mkdir -p $O
$G peer status --xml > $O/peer_status.xml 2>&1; echo "rc=$?"
$G peer probe 127.0.0.1 > $O/peer_probe_localhost.txt 2>&1; echo "rc=$?" >> $O/peer_probe_localhost.txt
$G volume info --xml > $O/volume_info_none.xml 2>&1
$G volume info nosuch --xml > $O/volume_info_missing.xml 2>&1; echo "rc=$?" >> $O/volume_info_missing.rc
for i in 1 2 3; do mkdir -p $D/bricks/b$i/brick; done
$G volume create vol_r3 replica 3 192.0.2.10:$D/bricks/b1/brick 192.0.2.10:$D/bricks/b2/brick 192.0.2.10:$D/bricks/b3/brick force > $O/volume_create.txt 2>&1; echo "rc=$?" >> $O/volume_create.txt
$G volume set vol_r3 user.heketi.id 0123456789abcdef0123456789abcdef > $O/volume_set.txt 2>&1
$G volume set vol_r3 performance.rsize 128 >> $O/volume_set.txt 2>&1
$G volume start vol_r3 > $O/volume_start.txt 2>&1; echo "rc=$?" >> $O/volume_start.txt
sleep 3
$G volume info vol_r3 --xml > $O/volume_info_r3.xml 2>&1
$G volume status vol_r3 --xml > $O/volume_status_r3.xml 2>&1
$G volume heal vol_r3 info --xml > $O/heal_info_r3.xml 2>&1; echo "rc=$?" >> $O/heal_info.rc
for i in 4 5 6 7 8 9; do mkdir -p $D/bricks/b$i/brick; done
$G volume create vol_dist 192.0.2.10:$D/bricks/b4/brick 192.0.2.10:$D/bricks/b5/brick force > /dev/null 2>&1
$G volume create vol_arb replica 3 arbiter 1 192.0.2.10:$D/bricks/b6/brick 192.0.2.10:$D/bricks/b7/brick 192.0.2.10:$D/bricks/b8/brick force > $O/volume_create_arbiter.txt 2>&1
$G volume info --xml > $O/volume_info_all.xml 2>&1
$G volume start vol_r3 > $O/volume_start_again.txt 2>&1; echo "rc=$?" >> $O/volume_start_again.txt
$G volume delete nosuch > $O/volume_delete_missing.txt 2>&1; echo "rc=$?" >> $O/volume_delete_missing.txt
$G volume stop vol_r3 force > $O/volume_stop.txt 2>&1; echo "rc=$?" >> $O/volume_stop.txt
$G volume status vol_r3 --xml > $O/volume_status_stopped.xml 2>&1
$G volume delete vol_r3 > $O/volume_delete.txt 2>&1; echo "rc=$?" >> $O/volume_delete.txt
$G peer probe 192.0.2.99 > $O/peer_probe_fail.txt 2>&1; echo "rc=$?" >> $O/peer_probe_fail.txt
$G volume delete vol_dist >/dev/null 2>&1; $G volume delete vol_arb >/dev/null 2>&1
pkill -F /run/glusterd.pid
sleep 1
$G volume info --xml > $O/glusterd_down.xml 2>&1; echo "rc=$?" >> $O/glusterd_down.xml
for p in $(pgrep -f "$D"); do kill $p; done

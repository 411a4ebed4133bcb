#!/bin/bash
# (heketipy copy of ../shared/testbed/vm, adds the LVM fault wrapper.)
# Customize the debootstrapped rootfs and turn it into a bootable raw ext4 image
# (no loop mount needed: mkfs.ext4 -d).  Produces: vmlinuz, initrd.img, base.raw, id_ed25519.
set -euo pipefail
cd ${VMDIR:-/var/tmp/heketipy-vm}
R=rootfs
[ -f id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -C heketipy-vm -f id_ed25519

# --- ssh access as root by key
install -d -m 700 $R/root/.ssh
install -m 600 id_ed25519.pub $R/root/.ssh/authorized_keys
cat > $R/etc/ssh/sshd_config.d/vmnode.conf <<'X'
PermitRootLogin prohibit-password
UseDNS no
X

# --- test-only LVM fault injection (heketipy e2e sets sshexec.lvm_wrapper to this script):
# /run/heketipy-faults/<subcommand> fails the next such lvm call once, <subcommand>.always every call.
cat > $R/usr/local/sbin/heketipy-fault-wrapper <<'X'
#!/bin/sh
# usage: heketipy-fault-wrapper /usr/sbin/lvm <subcommand> args...
sub=$2; dir=/run/heketipy-faults
if [ -n "$sub" ] && [ -f "$dir/$sub.always" ]; then cat "$dir/$sub.always" >&2; exit 5; fi
if [ -n "$sub" ] && mv "$dir/$sub" "$dir/$sub.claimed.$$" 2>/dev/null; then
  cat "$dir/$sub.claimed.$$" >&2; rm -f "$dir/$sub.claimed.$$"; exit 5
fi
exec "$@"
X
chmod 755 $R/usr/local/sbin/heketipy-fault-wrapper

# --- fstab / hosts / per-boot identity
echo '/dev/vda / ext4 rw,noatime,errors=remount-ro 0 1' > $R/etc/fstab
cat > $R/etc/hosts <<'X'
127.0.0.1 localhost
10.99.0.11 node1
10.99.0.12 node2
10.99.0.13 node3
X
echo node0 > $R/etc/hostname
: > $R/etc/machine-id          # unique id comes from systemd.machine_id= on the cmdline
rm -f $R/var/lib/dbus/machine-id
rm -f $R/var/lib/glusterd/glusterd.info   # MUST NOT be shared: glusterd UUID is created on first start

# --- static network from kernel cmdline (vmnode.id=N), interfaces matched by MAC
cat > $R/usr/local/sbin/vmnode-net <<'X'
#!/bin/sh
# NIC with MAC 52:54:00:aa:00:0N = slirp (host ssh via hostfwd), 52:54:00:bb:00:0N = private L2
id=$(sed -n 's/.*vmnode\.id=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$id" ] || exit 0
hostname node$id
ip link set lo up
find_if() { for d in /sys/class/net/*; do [ "$(cat $d/address)" = "$1" ] && basename $d && return; done; }
i=0
while :; do
  u=$(find_if 52:54:00:aa:00:0$id); p=$(find_if 52:54:00:bb:00:0$id)
  [ -n "$u" ] && [ -n "$p" ] && break
  i=$((i+1)); [ $i -gt 100 ] && { echo "vmnode-net: NICs not found" >&2; exit 1; }
  sleep 0.1
done
ip addr add 10.0.2.15/24 dev $u; ip link set $u up
ip addr add 10.99.0.1$id/24 dev $p; ip link set $p up
X
chmod 755 $R/usr/local/sbin/vmnode-net
cat > $R/etc/systemd/system/vmnode-net.service <<'X'
[Unit]
Description=Static network for test storage node
After=systemd-udev-trigger.service
Before=network.target network-online.target ssh.service glusterd.service
Wants=network.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/vmnode-net
[Install]
WantedBy=multi-user.target
X
ln -sf /etc/systemd/system/vmnode-net.service $R/etc/systemd/system/multi-user.target.wants/vmnode-net.service
ln -sf /etc/systemd/system/vmnode-net.service $R/etc/systemd/system/network-online.target.wants/vmnode-net.service 2>/dev/null || { mkdir -p $R/etc/systemd/system/network-online.target.wants; ln -sf /etc/systemd/system/vmnode-net.service $R/etc/systemd/system/network-online.target.wants/; }

# --- make sure glusterd and ssh start at boot; mask things a test node does not need
chroot $R systemctl enable glusterd.service ssh.service >/dev/null 2>&1 || true
for u in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
         systemd-timesyncd.service getty@tty1.service; do
  ln -sf /dev/null $R/etc/systemd/system/$u
done

# --- speed-ups that matter a lot under TCG (software emulation)
# glusterd runs the python geo-replication helper ~25 times at every start (~30 s under TCG): hide it
if [ ! -e $R/usr/lib/x86_64-linux-gnu/glusterfs/gsyncd.disabled ]; then
  chroot $R dpkg-divert --local --rename --divert /usr/lib/x86_64-linux-gnu/glusterfs/gsyncd.disabled \
      --add /usr/lib/x86_64-linux-gnu/glusterfs/gsyncd
fi
# small initramfs: only what is needed to mount /dev/vda (40 MB -> ~5 MB, saves ~10 s unpacking + udev)
cat > $R/etc/initramfs-tools/conf.d/vmnode.conf <<'X'
MODULES=list
COMPRESS=gzip
X
printf '%s\n' virtio_pci virtio_blk ext4 crc32c_generic > $R/etc/initramfs-tools/modules
mount -t proc proc $R/proc
chroot $R update-initramfs -u -k all >/dev/null 2>&1 || true
umount $R/proc
rm -f $R/boot/initrd.img-*.bak
# drop kernel modules a virtio test VM never needs (~200 MB smaller image)
for K in $R/usr/lib/modules/*; do
  (cd $K/kernel && rm -rf sound drivers/gpu drivers/media drivers/net/wireless drivers/net/ethernet drivers/infiniband \
       drivers/iio drivers/staging drivers/bluetooth net/wireless net/mac80211 net/bluetooth)
  chroot $R depmod -a $(basename $K)
done
# modules that udev would load for nothing
cat > $R/etc/modprobe.d/vmnode.conf <<'X'
blacklist kvm
blacklist kvm_amd
blacklist kvm_intel
blacklist pcspkr
blacklist iTCO_wdt
blacklist lpc_ich
blacklist drm
blacklist bochs
blacklist joydev
blacklist evdev
X
for u in systemd-logind.service systemd-update-utmp.service systemd-update-utmp-runlevel.service systemd-binfmt.service \
         dpkg-db-backup.timer systemd-tmpfiles-clean.timer serial-getty@ttyS0.service; do
  ln -sf /dev/null $R/etc/systemd/system/$u
done

# --- trim image
rm -rf $R/var/cache/apt/archives/*.deb $R/var/lib/apt/lists/* $R/usr/share/doc/* $R/usr/share/man/* $R/usr/share/locale/*

# --- kernel + initrd out of the rootfs
cp -L $R/vmlinuz vmlinuz; cp -L $R/initrd.img initrd.img
ls -la vmlinuz initrd.img

# --- root image: raw ext4 filled from the directory (no mount / loop device needed)
rm -f base.raw
SZ=$(( $(du -sm $R | cut -f1) + 600 ))M
mkfs.ext4 -q -F -L vmroot -d $R base.raw $SZ
ls -la base.raw

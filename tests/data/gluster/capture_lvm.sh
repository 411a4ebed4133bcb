set -x
export LVM_SYSTEM_DIR=/tmp/cap/lvmsys
mkdir -p $LVM_SYSTEM_DIR
printf 'devices { filter = [ "a|^/dev/loop|", "r|.*|" ] }\nglobal { use_lvmetad = 0 }\nbackup { backup = 0 archive = 0 }\n' > $LVM_SYSTEM_DIR/lvm.conf
truncate -s 2G /tmp/cap/disk.img
L=$(losetup -f --show /tmp/cap/disk.img)
echo $L > /tmp/cap/loopdev
O=/tmp/cap/lvmout; mkdir -p $O
lvm pvcreate -qq --metadatasize=128M --dataalignment=256K $L > $O/pvcreate.out 2> $O/pvcreate.err; echo rc=$?
lvm vgcreate -qq --physicalextentsize=4M --autobackup=n vg_0123456789abcdef0123456789abcdef $L > $O/vgcreate.out 2> $O/vgcreate.err; echo rc=$?
lvm pvs -o pv_name,pv_uuid,vg_name --reportformat=json $L > $O/pvs.json 2> $O/pvs.err; echo rc=$?
lvm vgs -o pv_name,pv_uuid,vg_name --reportformat=json vg_0123456789abcdef0123456789abcdef > $O/vgs.json 2> $O/vgs.err
lvm vgdisplay -c vg_0123456789abcdef0123456789abcdef > $O/vgdisplay.out 2> $O/vgdisplay.err; echo rc=$?
lvm vgdisplay -c vg_missing > $O/vgdisplay_missing.out 2> $O/vgdisplay_missing.err; echo rc=$? >> $O/vgdisplay_missing.err
lvm lvs --noheadings --options=thin_count vg_0123456789abcdef0123456789abcdef/tp_x > $O/thin_count_missing.out 2> $O/thin_count_missing.err; echo rc=$? >> $O/thin_count_missing.err
lvm lvremove --autobackup=n -f vg_0123456789abcdef0123456789abcdef/brick_x > $O/lvremove_missing.out 2> $O/lvremove_missing.err; echo rc=$? >> $O/lvremove_missing.err
lvm lvs --reportformat=json --units k --nosuffix -o vg_name,lv_name,lv_size,pool_lv,lv_tags,segtype vg_0123456789abcdef0123456789abcdef > $O/lvs_empty.json 2> $O/lvs_empty.err
lvm lvcreate -qq --autobackup=n --type linear --size 8M --addtag heketi-device-x --name lin vg_0123456789abcdef0123456789abcdef > $O/lvcreate.out 2> $O/lvcreate.err; echo rc=$? >> $O/lvcreate.err
lvm vgs --reportformat=json --units k --nosuffix -o vg_name,vg_free,vg_size,vg_extent_size > $O/vgs_free.json 2> $O/vgs_free.err
lvm vgremove -qq -f vg_0123456789abcdef0123456789abcdef > $O/vgremove.out 2> $O/vgremove.err; echo rc=$?
lvm pvremove -qq $L > $O/pvremove.out 2> $O/pvremove.err; echo rc=$?
losetup -d $L
rm -f /tmp/cap/disk.img

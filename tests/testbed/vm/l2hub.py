#!/usr/bin/env python3
"""Tiny userspace Ethernet learning switch for QEMU '-netdev socket,udp=...'.

Every VM's second NIC is:
   -netdev socket,id=l2,udp=127.0.0.1:HUBPORT,localaddr=127.0.0.1:VMPORT
QEMU sends each Ethernet frame as one UDP datagram to HUBPORT and receives
frames on VMPORT.  This hub forwards frames between the given VM ports
(learning MAC -> port; flooding unknown/broadcast/multicast).  Only loopback is
used, nothing on the host network is touched.

usage: l2hub.py HUBPORT VMPORT [VMPORT ...]
"""
import contextlib
import socket
import sys

hub_port = int(sys.argv[1])
peers = [("127.0.0.1", int(p)) for p in sys.argv[2:]]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
s.bind(("127.0.0.1", hub_port))
mac_table = {}
while True:
    frame, src = s.recvfrom(65536)
    if len(frame) < 14 or src not in peers:
        continue
    mac_table[frame[6:12]] = src          # learn source MAC
    dst = mac_table.get(frame[0:6])
    if dst is not None and not (frame[0] & 1):
        if dst != src:
            s.sendto(frame, dst)
        continue
    for p in peers:                        # flood
        if p != src:
            with contextlib.suppress(OSError):
                s.sendto(frame, p)

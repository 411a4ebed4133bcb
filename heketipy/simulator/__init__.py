"""The simulator: stateful in-memory storage nodes for tests, ``make run`` and benchmarks.

``state`` holds the nodes (disks, PVs, VGs, LVs, mounts, fstab, trusted pools, gluster and
gluster-block volumes); ``node`` and ``gluster`` apply one command's effect each, failing the way
the real tool does; ``support`` has the latency model, fault injection and trace.
"""

"""The simulator: stateful in-memory storage nodes for tests, ``make run`` and benchmarks.

The nodes sit beneath the command boundary: ``runner.SimulatedNodes`` is a ``CommandRunner``
that ``RemoteExecutor`` runs its real argv on, exactly as over SSH or Kubernetes exec
(``heketipy.wiring`` builds that executor). ``lvm_cli``, ``host_cli`` and ``gluster_cli``
interpret the command lines and answer with the real tools' exit codes and output; ``node``
and ``gluster`` apply one command's effect each, failing the way the real tool does; ``state``
holds the nodes (disks, PVs, VGs, LVs, mounts, fstab, trusted pools, gluster and gluster-block
volumes, snapshots) and its file; ``support`` has the latency model, command-level fault
injection and the trace.
"""

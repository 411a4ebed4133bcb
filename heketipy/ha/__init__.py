"""Active/standby high availability: who may write the database, and for how long.

``leadership`` defines the contract every leadership mechanism meets (a Kubernetes
``coordination.k8s.io/v1`` Lease, the database lock on the Gluster mount); the server runs
as a standby until ``acquire`` returns and fences itself when ``hold`` returns.
``dblock`` is leadership by the database's POSIX lock, ``combined.AllOf`` holds several
mechanisms at once, and ``factory`` picks them from the ``heketipy.ha`` settings.
"""

"""heketipy-csi: a Container Storage Interface driver provisioning GlusterFS volumes through
heketipy (or Heketi) and mounting them with FUSE.

It is a client of the REST API only (``heketipy.client``): an import-linter contract forbids
it the server's packages. Modules: ``vocabulary`` (parameter names and volume context shared
with heketipy-cli's PV migration), ``params``/``naming``/``sizes`` (pure request translation),
``errors`` (gRPC status mapping), ``locks`` (in-flight operations per name or id),
``identity``/``controller``/``node`` (the three CSI services), ``mounts`` (mount argv builders,
the mount table, the command runner), ``server``/``main`` (the grpc.aio process).
The CSI spec's proto and protoc's stubs are in ``heketipy.third_party.csi_spec``;
``generate_stubs`` regenerates them.
"""

DRIVER_NAME = "heketipy.gluster.org"

"""The CSI wire interface, not heketipy's code: `csi.proto` (the services, messages, names and
field numbers of the Container Storage Interface specification v1.9+, package ``csi.v1``,
trimmed to what heketipy-csi serves) and the modules protoc made of it with the pinned
grpcio-tools (1.85.1, see pyproject.toml): `csi_pb2`, `csi_pb2.pyi` and `csi_pb2_grpc`.

They are committed so the driver needs no code generation at install time.
``python -m heketipy.csi.generate_stubs`` (`make csi-proto`) rebuilds them, and
tests/csi/test_proto.py fails when the committed modules differ from a fresh generation.
"""

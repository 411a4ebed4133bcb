"""The CSI wire interface: `csi.proto` (heketipy's subset of the CSI v1 specification) and the
Python modules grpcio-tools generates from it (`csi_pb2`, `csi_pb2_grpc`), committed so the
driver needs no code generation at install time. `generate` rebuilds them; a test checks that
the committed files are what it produces.
"""

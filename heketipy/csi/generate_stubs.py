"""Regenerate the CSI gRPC stubs (`csi_pb2.py`, `csi_pb2.pyi`, `csi_pb2_grpc.py`) in
``heketipy/third_party/csi_spec/`` from the `csi.proto` beside them.

Run from anywhere: ``python -m heketipy.csi.generate_stubs [OUTPUT_ROOT]`` (`make csi-proto`).
The proto is compiled with the repository root as include path, so the generated modules import
each other as ``heketipy.third_party.csi_spec.csi_pb2``. The output depends only on the
grpcio-tools version, which pyproject.toml pins exactly for that reason.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

STUBS_DIR = ("heketipy", "third_party", "csi_spec")
PROTO = "/".join((*STUBS_DIR, "csi.proto"))
GENERATED = ("csi_pb2.py", "csi_pb2.pyi", "csi_pb2_grpc.py")


def source_root() -> Path:
    """The directory holding the ``heketipy`` package (where PROTO is relative to)."""
    return Path(__file__).resolve().parents[2]


def generate(output_root: Path) -> list[Path]:
    """Compile PROTO into ``output_root/heketipy/third_party/csi_spec/``; return the files."""
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    target = output_root.joinpath(*STUBS_DIR)
    target.mkdir(parents=True, exist_ok=True)
    argv = [
        "grpc_tools.protoc",
        f"-I{source_root()}",
        f"-I{well_known}",
        f"--python_out={output_root}",
        f"--pyi_out={output_root}",
        f"--grpc_python_out={output_root}",
        PROTO,
    ]
    if protoc.main(argv) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(argv)}")
    return [target / name for name in GENERATED]


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else source_root()
    for path in generate(root):
        print(path)

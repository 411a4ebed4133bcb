"""Regenerate `csi_pb2.py`, `csi_pb2.pyi` and `csi_pb2_grpc.py` from `csi.proto`.

Run from anywhere: ``python -m heketipy.csi.proto.generate [OUTPUT_ROOT]``. The proto is
compiled with the repository root as include path, so the generated modules import each other
as ``heketipy.csi.proto.csi_pb2``. The output depends only on the grpcio-tools version, which
pyproject.toml pins exactly for that reason.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

PROTO = "heketipy/csi/proto/csi.proto"
GENERATED = ("csi_pb2.py", "csi_pb2.pyi", "csi_pb2_grpc.py")


def source_root() -> Path:
    """The directory holding the ``heketipy`` package (where PROTO is relative to)."""
    return Path(__file__).resolve().parents[3]


def generate(output_root: Path) -> list[Path]:
    """Compile PROTO into ``output_root/heketipy/csi/proto/``; return the generated files."""
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    target = output_root / "heketipy" / "csi" / "proto"
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

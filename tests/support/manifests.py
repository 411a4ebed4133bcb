"""Reading deploy/'s Kubernetes manifests in tests: every document of a set of files, one
object by kind and name, and the Kubernetes versions they are validated against."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def kube_versions(kubernetes_validate: Any) -> list[str]:
    """The oldest Kubernetes the manifests are meant for, and the newest schema shipped."""
    return ["1.25.0", kubernetes_validate.latest_version()]


def manifest_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.name != "kustomization.yaml")


def documents(paths: Iterable[Path]) -> list[dict[str, Any]]:
    docs = []
    for path in paths:
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


def find_in(docs: Iterable[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name} in deploy/")

"""The explicit list of journaled operation types, and imports that fail loudly."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import pytest

import heketipy
import heketipy.operations
from heketipy.operations.catalog import JOURNALED_OPERATIONS, OPERATION_TYPES
from heketipy.operations.runtime import Operation

PACKAGE_ROOT = Path(heketipy.__file__).parent


def operation_classes() -> set[type[Operation]]:
    """Every concrete ``Operation`` subclass defined in the operations package."""
    found: set[type[Operation]] = set()
    for info in pkgutil.iter_modules(heketipy.operations.__path__, "heketipy.operations."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Operation) and value is not Operation:
                found.add(value)
    return found


def test_every_journaled_operation_type_is_listed_once() -> None:
    assert set(JOURNALED_OPERATIONS) == operation_classes()
    assert len(OPERATION_TYPES) == len(JOURNALED_OPERATIONS)  # no two share a type name
    for type_name, op_type in OPERATION_TYPES.items():
        assert op_type.type_name == type_name


def test_the_type_names_recorded_in_journals_stay_the_same() -> None:
    """Journal records of earlier versions name these types; renaming one strands them."""
    assert sorted(OPERATION_TYPES) == [
        "add-device", "clone-volume", "create-block-volume", "create-volume",
        "delete-block-volume", "delete-device", "delete-volume", "evict-brick",
        "expand-block-volume", "expand-volume", "expand-volume-in-place",
    ]


def test_no_import_error_is_swallowed_in_the_package() -> None:
    """A broken import must stop the server, not turn routes into 404s (third-party text such
    as the generated gRPC code, which checks its own runtime's version, is the one exception)."""
    offenders = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        if "third_party" in path.relative_to(PACKAGE_ROOT).parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "suppress":
                suppressed = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
                if suppressed & {"ImportError", "ModuleNotFoundError"}:
                    offenders.append(f"{path.relative_to(PACKAGE_ROOT)}:{node.lineno}")
            if not isinstance(node, ast.ExceptHandler) or node.type is None:
                continue
            names = [
                n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)
            ]
            if "ImportError" not in names and "ModuleNotFoundError" not in names:
                continue
            if not any(isinstance(n, ast.Raise) for n in ast.walk(node)):
                offenders.append(f"{path.relative_to(PACKAGE_ROOT)}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize(
    ("module", "dependency", "extra"),
    [
        ("heketipy.executors.ssh", "asyncssh", "heketipy[ssh]"),
        ("heketipy.executors.kube", "kubernetes", "heketipy[kube]"),
    ],
)
def test_a_missing_extra_is_named(
    monkeypatch: pytest.MonkeyPatch, module: str, dependency: str, extra: str
) -> None:
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(sys.modules, dependency, None)  # import of it now fails
    with pytest.raises(ModuleNotFoundError, match=extra.replace("[", r"\[").replace("]", r"\]")):
        importlib.import_module(module)


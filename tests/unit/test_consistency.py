"""domain.consistency: the database check as a pure function of the state, and the
"listed child does not link back" scan it shares with the dump importer."""

from __future__ import annotations

from types import SimpleNamespace

from heketipy.domain.consistency import check, mislinked_children
from heketipy.domain.entities import Cluster, Node
from heketipy.domain.state import State


def test_mislinked_children_in_listed_order_with_their_owner() -> None:
    table = {"a": SimpleNamespace(parent="p"), "b": SimpleNamespace(parent="q"),
             "c": SimpleNamespace(parent="")}
    found = list(mislinked_children("p", ["z", "b", "a", "c"], table, "parent"))
    assert found == [("z", None), ("b", "q"), ("c", "")]


def test_check_reports_a_node_of_an_unknown_cluster() -> None:
    state = State()
    state.load([
        Cluster(id="c1"),
        Node(id="n1", cluster_id="c1", zone=1, manage=["h1"], storage=["10.0.0.1"]),
        Node(id="n2", cluster_id="gone", zone=1, manage=["h2"], storage=["10.0.0.2"]),
    ], {})
    report = check(state)
    assert report["nodes"] == {
        "total": 2, "pending": 0, "ok": 1, "notok": 1,
        "inconsistencies": ["Node n2 unknown cluster gone"],
    }
    assert report["clusters"]["ok"] == 1
    assert report["totalinconsistencies"] == 1

"""No import cycle between any two modules of the project (function-level and TYPE_CHECKING
imports included), on the import graph import-linter's grimp builds. ``make test`` also runs
the layer contracts (``lint-imports``, configured in pyproject.toml)."""

from __future__ import annotations

import grimp

PACKAGES = ("routing", "reviewers", "dashboard", "hybridqc")


def module_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_import_graph_has_no_module_cycles():
    assert module_cycles(grimp.build_graph(*PACKAGES)) == []


def test_import_graph_finds_a_planted_cycle():
    graph = grimp.ImportGraph()
    for importer, imported in [("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x"), ("a.z", "a.w")]:
        graph.add_import(importer=importer, imported=imported)
    assert module_cycles(graph) == [["a.x", "a.y", "a.z"]]


def test_import_graph_routing_imports_neither_reviewers_nor_the_flows():
    graph = grimp.build_graph(*PACKAGES)
    for upper in ("reviewers", "dashboard", "hybridqc.flows"):
        assert graph.find_illegal_dependencies_for_layers(layers=(upper, "routing")) == set()
        assert not graph.chain_exists(importer="routing", imported=upper, as_packages=True)

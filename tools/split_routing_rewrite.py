"""Rewriting references to moved modules, for ``tools/split_routing.py``: ``from a.b import c``
(split by symbol where the module was split), dotted paths and file paths, longest match first on
whole dotted segments. Task names (``routing.tasks.<task>``) are names, not module paths: kept."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from split_routing_cut import parse_module
from split_routing_table import (
    MOVES,
    ROOT,
    SELF,
    SKIP_PARTS,
    SPLITS,
    TASKS_REGISTRY,
    TEXT_NAMES,
    TEXT_SUFFIXES,
    mod,
)

FROM_IMPORT = re.compile(
    r"^(?P<indent>[ \t]*)from[ \t]+(?P<mod>(?:tests\.)?routing(?:\.\w+)*)[ \t]+import[ \t]+"
    r"(?P<names>\((?:[^()]|\n)*?\)|[^\n]*?)(?P<comment>[ \t]*#[^\n]*)?$", re.M)
DOTTED = re.compile(r"(?<![\w.])(?:tests\.)?routing(?:\.\w+)+")
SLASHED = re.compile(r"(?<![\w/.-])(?:tests/)?routing(?:/\w+)+(?:\.py)?")


class Rewriter:
    def __init__(self, modules: dict[str, str], symbols: dict[str, dict[str, str]]) -> None:
        self.modules = modules
        self.symbols = symbols  # split module -> {symbol: new module}; "*" is the default
        self.keys = sorted(modules, key=lambda k: -k.count("."))

    def module(self, dotted: str) -> str:
        parts = dotted.split(".")
        for n in range(len(parts), 1, -1):
            head, tail = ".".join(parts[:n]), parts[n:]
            if head in self.symbols and tail and head != mod(TASKS_REGISTRY):
                target = self.symbols[head].get(tail[0], self.symbols[head].get("*", head))
                return ".".join([target, *tail])
            if head in self.modules:
                return ".".join([self.modules[head], *tail])
        return dotted

    def from_import(self, m: re.Match[str]) -> str:
        """``from old import a, b as c`` -> one statement per new module (comments kept)."""
        module, indent = m["mod"], m["indent"]
        comments = [(m["comment"] or "").strip()]
        groups: dict[str, list[tuple[str, str]]] = {}  # new module -> [(name [as alias], comment)]
        for line in m["names"].strip("()").split("\n"):
            code, _, comment = line.partition("#")
            pieces = [p.strip() for p in code.split(",") if p.strip()]
            if comment.strip() and not pieces:
                comments.append("# " + comment.strip())
            for piece in pieces:
                name, _, alias = (x.strip() for x in piece.partition(" as "))
                target, new_name = self.target_of(module, name)
                alias = alias or (name if new_name != name else "")
                text = new_name + (f" as {alias}" if alias and alias != new_name else "")
                groups.setdefault(target, []).append((text, "# " + comment.strip() if comment.strip() else ""))
        if list(groups) == [module]:
            return m[0]
        tail = "  " + " ".join(c for c in comments if c) if any(comments) else ""
        out = []
        for target, names in groups.items():
            if any(c for _n, c in names):
                inner = "".join(f"{indent}    {n},{'  ' + c if c else ''}\n" for n, c in names)
                out.append(f"{indent}from {target} import ({tail}\n{inner}{indent})")
            else:
                out.append(f"{indent}from {target} import {', '.join(n for n, _c in names)}{tail}")
        return "\n".join(out)

    def target_of(self, module: str, name: str) -> tuple[str, str]:
        """Where ``from module import name`` now finds it: (module, name)."""
        sub = f"{module}.{name}"
        if sub in self.modules:
            new = self.modules[sub]
            return new.rpartition(".")[0], new.rpartition(".")[2]
        if module in self.symbols:
            return self.symbols[module].get(name, self.symbols[module].get("*", module)), name
        return self.module(module), name

    def text(self, text: str, python: bool) -> str:
        if python:
            text = FROM_IMPORT.sub(self.from_import, text)
        text = DOTTED.sub(lambda m: self.module(m[0]), text)

        def slashed(m: re.Match[str]) -> str:
            raw = m[0]
            py = raw.endswith(".py")
            dotted = raw[:-3].replace("/", ".") if py else raw.replace("/", ".")
            new = self.module(dotted)
            if new == dotted or (not py and dotted not in self.modules):
                return raw
            return new.replace(".", "/") + (".py" if py else "")
        return SLASHED.sub(slashed, text)


def _definitions(path: Path) -> set[str]:
    return set().union(*(s.names for s in parse_module(path.read_text())[2])) if path.exists() else set()


def symbol_tables() -> dict[str, dict[str, str]]:
    """Where each symbol of a split module went, and the ``routing.models`` facade's models (read
    from the old files before the split, from the new ones after it); "*" is where others go."""
    out: dict[str, dict[str, str]] = {}
    for old, (table, default) in SPLITS.items():
        out[mod(old)] = {n: mod(t) for n, t in table.items()}
        for n in _definitions(ROOT / old) if old != TASKS_REGISTRY or (ROOT / old).exists() else set():
            out[mod(old)].setdefault(n, mod(default))
        if old != TASKS_REGISTRY:  # the registry re-exports every task: an unknown one stays
            out[mod(old)]["*"] = mod(default)
    facade = {"*": "routing.models"}
    for old in sorted(MOVES | SPLITS):
        if old.startswith("routing/models/") and not old.endswith("__init__.py"):
            table, new = SPLITS[old] if old in SPLITS else ({}, str(MOVES[old]))
            for n in _definitions(ROOT / old if (ROOT / old).exists() else ROOT / new) | set(table):
                facade.setdefault(n, mod(table.get(n, new)))
    out["routing.models"] = facade
    return out


def text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split()
    out = []
    for rel in listed:
        p = ROOT / rel
        if SELF.match(rel) or SKIP_PARTS & set(Path(rel).parts) or not p.is_file():
            continue
        if p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES:
            out.append(p)
    return out



"""Cutting a module by top-level definition, for ``tools/split_routing.py``; and the log."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

from split_routing_table import NEW_DOCSTRINGS, ROOT, SPLITS, TASK_NAME_PREFIX, TASKS_REGISTRY, mod, wrapped

log_lines: list[str] = []
manual: list[str] = []


def say(line: str) -> None:
    log_lines.append(line)
    print(line)


def git(*args: str, dry: bool) -> None:
    if dry:
        return
    subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True)


# --- 1. relative imports -> absolute ---------------------------------------------------------------
RELATIVE = re.compile(r"^(?P<indent>[ \t]*)from (?P<dots>\.+)(?P<rest>[\w.]*) import", re.M)


def absolutize(rel: str, text: str) -> str:
    package = mod(rel).split(".") if rel.endswith("__init__.py") else mod(rel).split(".")[:-1]

    def fix(m: re.Match[str]) -> str:
        base = package[: len(package) - (len(m["dots"]) - 1)]
        target = ".".join(base + ([m["rest"]] if m["rest"] else []))
        return f"{m['indent']}from {target} import"

    return RELATIVE.sub(fix, text)


# --- 2. splits -------------------------------------------------------------------------------------
def _names_defined(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def _names_used(source: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}


class Stmt(NamedTuple):
    names: set[str]
    source: str
    helper: bool  # private, or a plain lower-case value (``log = ...``): copied to every file using it


def parse_module(text: str) -> tuple[str | None, list[str], list[Stmt]]:
    """(docstring, header statements (imports, TYPE_CHECKING blocks), the body's statements); the
    comments above a statement belong to it."""
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    doc = ast.get_docstring(tree, clean=False)
    header: list[str] = []
    body: list[Stmt] = []
    start = 0
    for i, node in enumerate(tree.body):
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        chunk = "".join(lines[start:node.end_lineno])
        start = node.end_lineno or first
        if i == 0 and doc is not None and isinstance(node, ast.Expr):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom | ast.If):
            header.append("".join(lines[first:node.end_lineno]).rstrip() + "\n")
            continue
        names = _names_defined(node)
        helper = bool(names) and (all(n.startswith("_") for n in names) or (
            isinstance(node, ast.Assign | ast.AnnAssign) and all(n.islower() for n in names)))
        body.append(Stmt(names, chunk.strip("\n") + "\n", helper))
    return doc, header, body


def render(doc: str | None, header: list[str], body: list[str]) -> str:
    out = f'"""{doc}"""\n\n' if doc else ""
    future = [h for h in header if h.startswith("from __future__")]
    rest = [h for h in header if not h.startswith("from __future__")]
    out += "".join(dict.fromkeys(future)) + ("\n" if future else "") + "".join(dict.fromkeys(rest))
    return out + "\n\n" + "\n\n".join(b.rstrip("\n") + "\n" for b in body)


def split_plan(body: list[Stmt], table: dict[str, str], default: str) -> list[set[str]]:
    """The new file(s) of each statement: a mapped definition goes to its file, any other to the
    default file; a helper goes to every file whose statements use it (else the default)."""
    owner: list[set[str]] = [{table[n] for n in s.names if n in table} for s in body]
    for i, s in enumerate(body):
        if not owner[i] and not s.helper:
            owner[i] = {default}
    changed = True
    while changed:  # helpers used by helpers
        changed = False
        for i, s in enumerate(body):
            if s.helper and not s.names & set(table):
                users = [j for j, t in enumerate(body) if j != i and s.names & _names_used(t.source)]
                want = set().union(*(owner[j] for j in users))
                if want - owner[i]:
                    owner[i] |= want
                    changed = True
    return [o or {default} for o in owner]


TASK_DECORATOR = re.compile(r"@(?P<deco>shared_task|app\.task)(?:\((?P<args>[^)]*)\))?\n"
                            r"(?P<def>(?:async )?def (?P<fn>\w+))")


def name_tasks(source: str) -> str:
    """Keep each moved task's old name: queued messages, routes and annotations use it."""
    def named(m: re.Match[str]) -> str:
        args = m["args"] or ""
        if "name=" in args:
            return m[0]
        sep = ", " if args.strip() else ""
        return f'@{m["deco"]}(name="{TASK_NAME_PREFIX}{m["fn"]}"{sep}{args})\n{m["def"]}'
    return TASK_DECORATOR.sub(named, source)


def split_file(rel: str, dry: bool, touched: set[Path]) -> None:
    """Cut ``rel`` as SPLITS says (appending to a new file another split already wrote); the task
    module becomes the registry of the moved tasks."""
    table, default = SPLITS[rel]
    path = ROOT / rel
    if not path.exists():
        return
    doc, header, body = parse_module(absolutize(rel, path.read_text()))
    if rel == TASKS_REGISTRY and not any(s.names for s in body):
        return  # already the registry
    owners = split_plan(body, table, default)
    defined_in = {n: next(iter(o)) for s, o in zip(body, owners, strict=True) if not s.helper for n in s.names}
    for target in sorted(set().union(*owners)):
        stmts = [s for s, o in zip(body, owners, strict=True) if target in o]
        mine = set().union(*(s.names for s in stmts))
        used = set().union(*(_names_used(s.source) for s in stmts))
        cross = sorted({f"from {mod(defined_in[n])} import {n}\n" for n in used - mine if n in defined_in})
        parts = [name_tasks(s.source) if rel == TASKS_REGISTRY else s.source for s in stmts]
        for s in stmts:
            note = "" if s.names & set(table) or s.helper or target != default or not table else "   (default)"
            say(f"split  {rel}:{','.join(sorted(s.names)) or '<statement>'} -> {target}{note}")
        if not dry:
            part_write(target, doc, header + cross, parts)
            touched.add(ROOT / target)
    if rel == TASKS_REGISTRY:
        registry_write(path, body, owners, dry)
        touched.add(path)
    else:
        git("rm", "-q", "--cached", rel, dry=dry)
        if not dry:
            path.unlink()


def part_write(target: str, doc: str | None, header: list[str], parts: list[str]) -> None:
    tpath = ROOT / target
    if tpath.exists():
        tdoc, theader, tbody = parse_module(tpath.read_text())
        text = render(tdoc, theader + header, [s.source for s in tbody] + parts)
    else:
        new_doc = NEW_DOCSTRINGS.get(target)
        text = render(wrapped(new_doc) if new_doc else doc, header, parts)
    tpath.parent.mkdir(parents=True, exist_ok=True)
    tpath.write_text(text)
    git("add", target, dry=False)


def registry_write(path: Path, body: list[Stmt], owners: list[set[str]], dry: bool) -> None:
    """The old task module, re-exporting every task: Celery's autodiscovery imports it."""
    registry = ['"""Every task of routing, registered under its old name: Celery\'s autodiscovery imports '
                'this module;\neach task lives with its package."""\n\n']
    for target in sorted(set().union(*owners)):
        names = sorted(n for s, o in zip(body, owners, strict=True) if target in o and not s.helper for n in s.names)
        if names:
            registry.append(f"from {mod(target)} import {', '.join(names)}  # noqa: F401\n")
    if not dry:
        path.write_text("".join(registry))
    say(f"split  {path.relative_to(ROOT)} is now the task registry (re-exports every task)")

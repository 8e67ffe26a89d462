"""Split ``routing/`` by concern: a deterministic, idempotent codemod (run it again: it does nothing).

    .venv/bin/python tools/split_routing.py [--dry-run]

1. Relative imports under routing/ become absolute (so a file can move without breaking them).
2. Modules that hold several concerns are cut by top-level definition (SPLITS); a definition not in
   the table goes to the split's default target, helpers go with the definitions that use them.
3. Every file of MOVES is ``git mv``-ed; a file the table does not know, found under an old
   directory, goes by DIR_RULES (printed); test files likewise (TEST_MOVES, TEST_RULES).
4. Every module path in the repository's text files is rewritten to its new home: ``from a.b import
   c`` (split by symbol where the module was split), dotted paths (``import a.b as x``, mock targets,
   logger names, ``python -m``) and file paths (``routing/router/power.py``) — longest match first, on
   whole dotted segments. Task names (``routing.tasks.<task>``) are not module paths: they stay, and
   the moved tasks get the old names explicitly.
5. ``ruff --select I`` sorts the imports it touched. Everything done, and what is left for a human,
   is printed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from split_routing_cut import absolutize, git, log_lines, manual, say, split_file
from split_routing_rewrite import Rewriter, symbol_tables, text_files
from split_routing_table import (
    DIR_RULES,
    MOVES,
    PACKAGE_MOVES,
    PACKAGES,
    ROOT,
    SPLITS,
    TASKS_REGISTRY,
    TEST_KEEP,
    TEST_MOVES,
    TEST_PACKAGES,
    TEST_RULES,
    TOP_LEVEL_RULES,
    mod,
    wrapped,
)

RUFF = ROOT / ".venv" / "bin" / "ruff"

# --- 3. moves --------------------------------------------------------------------------------------
def planned_moves() -> dict[str, str | None]:
    moves = {old: new for old, new in MOVES.items() if (ROOT / old).exists()}
    for old_dir, new_dir in DIR_RULES.items():
        for p in sorted((ROOT / old_dir).rglob("*")) if (ROOT / old_dir).is_dir() else []:
            rel = str(p.relative_to(ROOT))
            if p.is_file() and "__pycache__" not in rel and rel not in MOVES and rel not in SPLITS:
                moves[rel] = new_dir + rel[len(old_dir):]
                if not rel.startswith("routing/fake_judge/"):
                    say(f"rule   {rel} is not in the table: -> {moves[rel]}")
    for p in sorted((ROOT / "routing").glob("*.py")):
        rel = str(p.relative_to(ROOT))
        for pattern, new_dir in TOP_LEVEL_RULES:
            if rel not in MOVES and pattern.match(rel):
                moves[rel] = f"{new_dir}/{p.name}"
                say(f"rule   {rel} is not in the table: -> {moves[rel]}")
    for p in sorted((ROOT / "tests" / "routing").glob("test_*.py")):
        rel = str(p.relative_to(ROOT))
        if rel in TEST_MOVES or rel in TEST_KEEP:
            moves.update({rel: TEST_MOVES[rel]} if rel in TEST_MOVES else {})
            continue
        pkg = next((pkg for prefix, pkg in TEST_RULES if p.name.startswith(prefix)), None)
        if pkg:
            moves[rel] = f"tests/routing/{pkg}/{p.name}"
            say(f"rule   {rel} is not in the table: -> {moves[rel]}")
        else:
            manual.append(f"{rel}: no rule says where it goes (left in tests/routing/)")
    for p in sorted((ROOT / "routing" / "models").glob("*.py")):
        if p.name != "__init__.py" and str(p.relative_to(ROOT)) not in MOVES | SPLITS:
            manual.append(f"{p.relative_to(ROOT)}: a model module the table does not know (left in place)")
    for p in sorted((ROOT / "routing").glob("*.py")):
        rel = str(p.relative_to(ROOT))
        keep = {"routing/__init__.py", "routing/apps.py", "routing/admin.py", "routing/urls.py",
                "routing/api_urls.py", TASKS_REGISTRY}
        if rel not in keep and rel not in moves and rel not in SPLITS:
            manual.append(f"{rel}: a top-level module the table does not know (left in place)")
    return moves


def module_moves(moves: dict[str, str | None]) -> dict[str, str]:
    """Old dotted module -> new dotted module (files, then whole packages)."""
    out = dict(PACKAGE_MOVES)
    all_moves = {**{o: n for o, n in MOVES.items() if n}, **{o: n for o, n in moves.items() if n}}
    for old, new in all_moves.items():
        if not old.endswith("__init__.py"):
            out[mod(old)] = mod(new)
    return out


def apply_moves(moves: dict[str, str | None], dry: bool, touched: set[Path]) -> None:
    for old, new in moves.items():
        if new is None:
            say(f"delete {old}")
            git("rm", "-q", old, dry=dry)
            continue
        say(f"move   {old} -> {new}")
        if not dry:
            (ROOT / new).parent.mkdir(parents=True, exist_ok=True)
        if not dry:
            file_move(old, new)
        touched.add(ROOT / new)
        if not dry:
            file_anchors_shift(ROOT / new, new.count("/") - old.count("/"))


def file_move(old: str, new: str) -> None:
    """``git mv``; a file git does not track yet is renamed, then added."""
    done = subprocess.run(["git", "mv", old, new], cwd=ROOT, capture_output=True)
    if done.returncode:
        (ROOT / old).rename(ROOT / new)
        git("add", new, dry=False)


FILE_ANCHOR = re.compile(r"(Path\(__file__\)(?:\.resolve\(\))?)((?:\.parent\b)+|\.parents\[(\d+)\])")


def file_anchors_shift(path: Path, deeper: int) -> None:
    """A moved file that finds the repository from ``__file__`` climbs as many levels more as it moved down."""
    if not deeper or path.suffix != ".py":
        return

    def shifted(m: re.Match[str]) -> str:
        if m[3] is not None:
            return f"{m[1]}.parents[{int(m[3]) + deeper}]"
        return m[1] + ".parent" * (m[2].count(".parent") + deeper)
    old = path.read_text()
    new = FILE_ANCHOR.sub(shifted, old)
    if new != old:
        say(f"shift  {path.relative_to(ROOT)}: Path(__file__) climbs {deeper} more level(s)")
        path.write_text(new)


def packages_init(dry: bool) -> None:
    dirs = set(PACKAGES) | {f"tests/routing/{p}" for p in TEST_PACKAGES} | {"routing/judging/fake_judge"}
    for d in sorted(dirs):
        init = ROOT / d / "__init__.py"
        if (ROOT / d).is_dir() and not init.exists():
            text = f'"""{wrapped(PACKAGES[d])}"""\n' if d in PACKAGES else ""
            say(f"create {d}/__init__.py")
            if not dry:
                init.write_text(text)
                git("add", str(init.relative_to(ROOT)), dry=dry)
    for d in sorted(PACKAGES):
        init = ROOT / d / "__init__.py"
        if init.exists() and d in PACKAGES and not dry and not init.read_text().strip():
            init.write_text(f'"""{wrapped(PACKAGES[d])}"""\n')


# --- 4. rewriting references -----------------------------------------------------------------------
CYCLE_IGNORES = re.compile(r"\n# Package-level cycles at routing's own top level[^\n]*\n(?:#[^\n]*\n)*"
                           r"ignore_imports = \[\n(?:[^\]]*\n)\]\n")


def absolutize_all(dry: bool, touched: set[Path]) -> None:
    for p in sorted((ROOT / "routing").rglob("*.py")):
        if "migrations" not in p.parts:
            rel, old = str(p.relative_to(ROOT)), p.read_text()
            new = absolutize(rel, old)
            if new != old:
                say(f"absolute imports in {rel}")
                if not dry:
                    p.write_text(new)
                    touched.add(p)


def rewrite_all(rewriter: Rewriter, dry: bool, touched: set[Path]) -> None:
    for p in text_files():
        old = p.read_text()
        new = rewriter.text(old, python=p.suffix == ".py")
        if p.name == "pyproject.toml":
            new = CYCLE_IGNORES.sub("\n", new)
        if new != old:
            changed = len(set(new.splitlines()) - set(old.splitlines()))
            say(f"rewrite {p.relative_to(ROOT)} ({changed} lines)")
            if not dry:
                p.write_text(new)
                touched.add(p)


def imports_sort(touched: set[Path]) -> None:
    """Sort the imports of every touched file; drop the unused ones of the files a split wrote."""
    py = sorted(str(p) for p in touched if p.suffix == ".py" and p.exists())
    if not py:
        return
    subprocess.run([str(RUFF), "check", "--quiet", "--select", "I001", "--fix", *py], cwd=ROOT)
    split_outputs = {str(ROOT / t) for table, d in SPLITS.values() for t in {d, *table.values()}
                     if (ROOT / t).exists() and t != TASKS_REGISTRY}
    subprocess.run([str(RUFF), "check", "--quiet", "--select", "F401,I001", "--fix", *sorted(split_outputs)],
                   cwd=ROOT)
    say(f"sorted imports of {len(py)} files (ruff I001)")


def leftovers() -> list[str]:
    """What a human must still place: unknown files, and text that still names a split module."""
    old = re.compile(r"(?<![\w./-])routing[./]services\b|(?<![\w.])routing[./](selectors|models/(?!__init__)\w)")
    return manual + [f"old path still named: {p.relative_to(ROOT)}:{i}: {line.strip()}" for p in text_files()
                     for i, line in enumerate(p.read_text().splitlines(), 1) if old.search(line)]


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print what would be done; change nothing")
    dry = parser.parse_args().dry_run
    touched: set[Path] = set()
    symbols = symbol_tables()  # before the split: read from the old files
    absolutize_all(dry, touched)
    for rel in SPLITS:
        split_file(rel, dry, touched)
    moves = planned_moves()
    apply_moves(moves, dry, touched)
    packages_init(dry)
    rewrite_all(Rewriter(module_moves(moves), symbols), dry, touched)
    if not dry:
        imports_sort(touched)
    left = leftovers()
    for line in left:
        print(f"MANUAL {line}")
    print(f"done: {len(log_lines)} steps, {len(left)} left for a human" + (" (dry run)" if dry else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

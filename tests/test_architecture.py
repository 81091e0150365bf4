"""The shape docs/architecture.md describes, checked: the import contracts in pyproject.toml
(layers, the shop apart, no web framework in the lower layers, no cycles) and small functions."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Benchmarks and migrations are scripts read top to bottom, and tests are exempt.
CHECKED = ("store", "web", "rules", "reads", "collector", "correlator", "dashboard", "shop")
CHECKED += ("sentrail",)
MAX_FUNCTION_LINES = 80


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 kept, 0 broken" in result.stdout


def long_functions(paths: list[Path], limit: int) -> list[str]:
    """`file:line name (lines)` of every function longer than `limit` lines."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    found.append(f"{path.name}:{node.lineno} {node.name} ({length})")
    return found


def test_no_function_is_longer_than_80_lines() -> None:
    paths = [path for package in CHECKED for path in (ROOT / package).rglob("*.py")]
    assert len(paths) > 50
    assert long_functions(paths, MAX_FUNCTION_LINES) == []


def test_the_length_check_counts_from_def_to_last_line(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    source.write_text(f"def long():\n{body}\n\n\ndef short():\n    return 1\n")
    assert long_functions([source], MAX_FUNCTION_LINES) == ["sample.py:1 long (81)"]

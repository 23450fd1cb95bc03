"""The layer contract of the suite (``[tool.importlinter]`` in pyproject.toml) and the absence of import cycles.

Layers, top to bottom: ``bench.cli`` > ``bench.api`` > ``leaderboards`` > ``bench.harness`` > ``baselines |
metrics | reference_models.debiasfr`` > ``reference_models.ifqa`` > ``reference_models.shared`` >
``bench.data`` > ``bench.core``.  A module imports only lower layers (imports inside functions count).
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_module

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "baselines", "metrics", "leaderboards", "reference_models")


def _lint(cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    require_module("importlinter", reason="import-linter (test extra) is not installed")
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_layer_contract_holds():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "frbench layers KEPT" in result.stdout and "0 broken" in result.stdout


def test_a_wrong_way_import_breaks_the_contract(tmp_path):
    """The check is not vacuous: one bottom-layer module importing the harness (inside a function) fails it."""
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("*.safetensors", "__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "bench" / "core" / "imageio.py", "a", encoding="utf-8") as handle:
        handle.write("\n\ndef _wrong_way():\n    from bench.harness.store import ResultStore\n    return ResultStore\n")
    result = _lint(tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert result.returncode != 0
    assert "bench.core is not allowed to import bench.harness" in result.stdout
    assert "bench.core.imageio -> bench.harness.store" in result.stdout


def test_no_import_cycle():
    grimp = require_module("grimp", reason="grimp (with import-linter, test extra) is not installed")
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    imported = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    # Tarjan's strongly connected components, iteratively: a cycle is a component of two or more modules
    index, low, on_stack, stack, cycles, counter = {}, {}, set(), [], [], [0]
    for root in sorted(imported):
        if root in index:
            continue
        work = [(root, iter(sorted(imported[root])))]
        index[root] = low[root] = counter[0]; counter[0] += 1; stack.append(root); on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]; counter[0] += 1
                    stack.append(child); on_stack.add(child)
                    work.append((child, iter(sorted(imported[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop(); on_stack.discard(member); component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    assert cycles == [], f"import cycles: {cycles}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_over_500_lines_except_single_architecture_ports(package):
    """One concept per module (about 500 lines); a network port that is one architecture may stay whole."""
    ports = set()
    long = {str(p.relative_to(REPO)): sum(1 for _ in open(p, encoding="utf-8"))
            for p in (REPO / package).rglob("*.py")}
    over = {p: n for p, n in long.items() if n > 500 and p not in ports}
    assert over == {}, over

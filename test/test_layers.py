"""Imports follow the layer order of docs/DESIGN.md, and the package graph of hfl_ros has no cycles.

Every `import` / `from ... import` in every module of hfl_ros/ (function-level ones included) is read
with `ast`; a module may import its own package and packages of lower layers only.
"""

import ast
import re
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = REPO_ROOT / "hfl_ros"
DESIGN = REPO_ROOT / "docs" / "DESIGN.md"
#: Units that exist only in a ROS build (generated), not in the source tree.
GENERATED = {"msg"}


def design_layers(text: str) -> Dict[str, int]:
    """unit name -> layer, from the rows `| <layer> | `a`, `b` |` of the "## Layers" section."""
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    layers: Dict[str, int] = {}
    for number, names in re.findall(r"^\|\s*(\d+)\s*\|([^|]*)\|", section, flags=re.MULTILINE):
        for name in re.findall(r"`([^`]+)`", names):
            if name in layers:
                raise ValueError(f"docs/DESIGN.md lists {name!r} on two layers")
            layers[name] = int(number)
    return layers


def unit_of(module: str) -> str:
    """The top-level unit of a dotted module inside hfl_ros ("hfl_ros" itself is `__init__`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, package_dir: Path) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every hfl_ros import in a source file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    module = module_name(path, package_dir)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            names = [target] if node.module else [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module]
            if node.module == "hfl_ros":  # `from hfl_ros import geometry` names a unit
                names = [f"hfl_ros.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == "hfl_ros" or name.startswith("hfl_ros."):
                yield node.lineno, name


def source_files(package: Path) -> List[Path]:
    return sorted(package.rglob("*.py"))


def package_units(package: Path) -> Set[str]:
    return {path.stem if path.parent == package else path.relative_to(package).parts[0] for path in source_files(package)}


def upward_imports(layers: Dict[str, int], package: Path) -> List[str]:
    """Every import of a unit that is not lower than the importing unit (its own unit excepted)."""
    problems = []
    for path in source_files(package):
        source = unit_of(module_name(path, package))
        for line, target in imported_modules(path, package):
            imported = unit_of(target)
            if imported == source or imported not in layers or source not in layers:
                continue
            if layers[imported] >= layers[source]:
                problems.append(f"{path.relative_to(package.parent)}:{line} ({source}, layer {layers[source]}) imports "
                                f"{target} ({imported}, layer {layers[imported]})")
    return problems


def package_cycles(package: Path) -> List[List[str]]:
    """Strongly connected groups of more than one unit in the unit-level import graph (Tarjan)."""
    graph: Dict[str, Set[str]] = {}
    for path in source_files(package):
        source = unit_of(module_name(path, package))
        targets = graph.setdefault(source, set())
        targets.update(unit_of(target) for _, target in imported_modules(path, package) if unit_of(target) != source)
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


@pytest.fixture(scope="module")
def layers() -> Dict[str, int]:
    return design_layers(DESIGN.read_text())


def test_every_unit_of_the_package_has_a_layer_in_the_design(layers) -> None:
    units = package_units(PACKAGE)
    assert sorted(units - set(layers)) == [], "add these to the Layers table of docs/DESIGN.md"
    assert sorted(set(layers) - units - GENERATED) == [], "the Layers table names units that do not exist"


def test_no_module_imports_a_higher_or_sibling_layer(layers) -> None:
    assert upward_imports(layers, PACKAGE) == []


def test_the_package_graph_has_no_cycles() -> None:
    assert package_cycles(PACKAGE) == []


def test_the_checks_see_an_upward_import_and_a_cycle(tmp_path) -> None:
    """The checker itself: a lower layer importing a higher one is reported, and so is the cycle it makes."""
    fake = tmp_path / "hfl_ros"
    for relative, text in {
        "__init__.py": "",
        "constants.py": "",
        "geometry/__init__.py": "from hfl_ros import constants\n",
        "geometry/camera.py": "def f():\n    from ..model.net import Net\n",
        "model/__init__.py": "",
        "model/net.py": "import hfl_ros.geometry.camera\nfrom hfl_ros.constants import X\n",
    }.items():
        (fake / relative).parent.mkdir(parents=True, exist_ok=True)
        (fake / relative).write_text(text)
    layers = design_layers("## Layers\n| 0 | `constants` |\n| 1 | `geometry` |\n| 2 | `model` |\n| 3 | `__init__` |\n")
    assert upward_imports(layers, fake) == [
        "hfl_ros/geometry/camera.py:2 (geometry, layer 1) imports hfl_ros.model.net (model, layer 2)"
    ]
    assert package_cycles(fake) == [["geometry", "model"]]

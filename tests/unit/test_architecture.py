"""The shape of the code, checked: no import cycle among Offload's modules (function-level
imports count; imports only for type checkers do not), the engine sends its tasks by name and
never imports the task module, and no engine module names one of the kinds."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Modules every kind stands on: none of them may know a kind by name or import the tasks.
ENGINE = ["jobs", "kinds", "ledger", "dispatch", "bulk", "notifications", "polling", "fragments", "events",
          "leases", "schedules", "performance", "metrics", "operations", "audit", "access", "progress"]  # fmt: skip
KIND_NAMES = ("sales_summary", "csv_profile", "image_batch", "mailing", "SALES_SUMMARY", "CSV_PROFILE", "IMAGE_BATCH")


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "reports").rglob("*.py"):
        if "migrations" not in path.parts:
            found[module_name(path)] = path
    return found


def type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under `if TYPE_CHECKING:`: for type checkers, never run."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            lines |= {child.lineno for child in ast.walk(node) if hasattr(child, "lineno")}
    return lines


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text())
    skipped = type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in known else target)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {module for module in found if module in known and module != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(module):
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for other in edges[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in edges:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_among_offloads_modules():
    assert cycles(graph()) == []


def test_the_checker_sees_a_cycle_through_a_function_level_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_engine_never_imports_the_task_module_or_a_kind():
    edges = graph()
    for name in ENGINE:
        reached = edges[f"reports.{name}"]
        assert "reports.tasks" not in reached, name
        assert not {module for module in reached if module.startswith("reports.job_kinds")}, name


def test_no_engine_module_names_a_kind():
    for name in ENGINE:
        source = (ROOT / "reports" / f"{name}.py").read_text()
        named = [kind for kind in KIND_NAMES if kind in source]
        assert not named, f"reports/{name}.py names {named}"

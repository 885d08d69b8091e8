"""The shape of the code, checked: no import cycle among Offload's modules (function-level
imports count; imports only for type checkers do not); the layers of reports/ stand on each
other in one direction (the engine at the bottom, then the live layer and the work, then
Operations, the views and the kinds); nothing below the kinds imports the tasks or a kind, or
names one; and the pure work modules know nothing of Django's database."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What each layer may import from reports/ besides itself: the models and the kind registry
# (reports.kinds, which names no kind) are the floor every layer stands on.
FLOOR = {"reports.models", "reports.kinds"}
LAYERS = {
    "reports.engine": set(),
    "reports.live": {"reports.engine"},
    "reports.work": {"reports.engine"},
    "reports.operations": {"reports.engine", "reports.live", "reports.work", "reports.forms", "reports.views"},
}
# The work modules that are pure functions on data: of reports/ they may use only these two.
PURE_WORK = [
    "charts", "csv_sample", "exports", "imaging", "mailing", "numbers", "profiling", "sales", "sales_query",
    "sketches", "sparklines",
]  # fmt: skip
PURE_ALLOWED = {"reports.engine.problems", "reports.engine.progress"}
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


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def upward(name: str, reached: set[str]) -> set[str]:
    """What a module in a layer imports from above that layer (nothing, for modules in no layer)."""
    layer = package_of(name)
    if layer not in LAYERS:
        return set()
    return {module for module in reached if package_of(module) not in {layer, *LAYERS[layer]} and module not in FLOOR}


def test_each_layer_imports_only_the_layers_below_it():
    for name, reached in graph().items():
        assert not upward(name, reached), f"{name} imports {sorted(upward(name, reached))}"


def test_nothing_below_the_kinds_imports_the_task_module_or_a_kind():
    edges = graph()
    for name, reached in edges.items():
        if package_of(name) in LAYERS or name in FLOOR:
            assert "reports.tasks" not in reached, name
            assert not {module for module in reached if module.startswith("reports.job_kinds")}, name


def test_nothing_below_the_kinds_names_one():
    for name, path in modules().items():
        if package_of(name) in {"reports.engine", "reports.live", "reports.operations"} or name in FLOOR - {
            "reports.models"
        }:
            named = [kind for kind in KIND_NAMES if kind in path.read_text()]
            assert not named, f"{path.relative_to(ROOT)} names {named}"


def test_the_pure_work_modules_know_no_database_and_no_job():
    known = modules()
    for stem in PURE_WORK:
        name = f"reports.work.{stem}"
        path = known[name]
        pure = {f"reports.work.{other}" for other in PURE_WORK}
        assert imports(name, path, known) <= PURE_ALLOWED | pure, name
        tree = ast.parse(path.read_text())
        used = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        used |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {module for module in used if module.startswith(("django.db", "django_celery", "celery"))}, name


def test_the_layer_checker_sees_an_upward_import():
    reached = graph()["reports.engine.jobs"] | {"reports.live.streams", "reports.models"}
    assert upward("reports.engine.jobs", reached) == {"reports.live.streams"}

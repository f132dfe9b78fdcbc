"""The project's import graph, read from the source with `ast`, and the rules it must keep.

Every `import` counts wherever it stands, inside a function too: a cycle held together by an
import inside a function is still a cycle, and a function-level `import sqlalchemy` in a
domain module still ties the rules to the framework. Imports under `if TYPE_CHECKING:` are
left out, since they never run. Dynamic imports (`importlib`, entry points) are not seen,
which is the point of them: that is how chassis finds the services without naming them.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What a domain or service-layer module must not reach, directly or through chassis.
FRAMEWORKS = frozenset({"sqlalchemy", "marshmallow", "nameko", "werkzeug", "jwt"})
SERVICE_FILE_LIMIT = 400  # lines; a service.py at or above it holds more than entrypoints


@dataclass(frozen=True)
class Module:
    name: str
    path: str       # as shown in messages, relative to the root
    source: str
    is_package: bool


@dataclass(repr=False)
class ImportGraph:
    """Modules of the project and, per module, what it imports.

    `internal` edges go to project modules (resolved to the deepest module that exists:
    `from chassis.broker import connect` is an edge to `chassis.broker`); `external` names are
    the top-level packages of everything else (`sqlalchemy.orm` → `sqlalchemy`).
    """

    modules: dict[str, Module]
    roots: frozenset[str]  # top-level names that belong to the project
    internal: dict[str, set[str]] = field(default_factory=dict)
    external: dict[str, set[str]] = field(default_factory=dict)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)  # (importer, imported)

    @classmethod
    def from_files(cls, files: Mapping[str, str], roots: Iterable[str] | None = None
                   ) -> ImportGraph:
        """`files` maps a path such as `chassis/broker.py` or `booking/domain/__init__.py`
        (relative to the folder the package sits in) to its source."""
        modules = {}
        for path, source in files.items():
            parts = list(Path(path).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            name = ".".join(parts)
            modules[name] = Module(name, path, source, is_package)
        graph = cls(modules, frozenset(roots or {m.split(".")[0] for m in modules}))
        for module in modules.values():
            graph._read(module)
        return graph

    @classmethod
    def from_tree(cls, package_dirs: Iterable[Path], root: Path = ROOT) -> ImportGraph:
        """Every `.py` file of the given package folders (`chassis`, `services/crm/crm`, ...)."""
        files = {}
        for package_dir in package_dirs:
            for path in sorted(package_dir.rglob("*.py")):
                relative = path.relative_to(package_dir.parent)
                files[str(relative)] = path.read_text(encoding="utf-8")
        graph = cls.from_files(files)
        # Messages name files from the repository root, which is where one opens them.
        for module in graph.modules.values():
            package_dir = next(d for d in package_dirs if d.name == module.name.split(".")[0])
            shown = package_dir.parent / module.path
            graph.modules[module.name] = Module(module.name, str(shown.relative_to(root)),
                                                module.source, module.is_package)
        return graph

    def __repr__(self) -> str:  # shown by pytest for the fixture: keep it to one line
        return f"ImportGraph({len(self.modules)} modules)"

    # -- reading ---------------------------------------------------------------------------

    def _read(self, module: Module) -> None:
        self.internal[module.name], self.external[module.name] = set(), set()
        tree = ast.parse(module.source, filename=module.path)
        for node in _runtime_imports(tree):
            for imported in self._resolve(module, node):
                top = imported.split(".")[0]
                if top in self.roots:
                    self.internal[module.name].add(imported)
                else:
                    self.external[module.name].add(top)
                self.lines.setdefault((module.name, imported if top in self.roots else top),
                                      node.lineno)

    def _resolve(self, module: Module, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield self._deepest(alias.name)
            return
        if node.module == "__future__":
            return
        base = node.module or ""
        if node.level:
            package = module.name.split(".") if module.is_package \
                else module.name.split(".")[:-1]
            package = package[:len(package) - (node.level - 1)]
            base = ".".join([*package, *([base] if base else [])])
        for alias in node.names:
            candidate = f"{base}.{alias.name}" if base else alias.name
            # `from chassis import metrics` imports the module chassis.metrics.
            yield candidate if candidate in self.modules else self._deepest(base)

    def _deepest(self, dotted: str) -> str:
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in self.modules:
                return ".".join(parts[:end])
        return dotted

    # -- questions -------------------------------------------------------------------------

    def executes(self, name: str) -> set[str]:
        """The project modules importing `name` runs at once: what it imports, and the
        packages (`__init__`) above each of them."""
        found = set()
        for imported in self.internal.get(name, ()):
            parts = imported.split(".")
            found.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
        found.discard(name)
        return {m for m in found if m in self.modules}

    def cycles(self, within: str) -> list[list[str]]:
        """The import cycles among the modules of package `within`: for every module caught
        in one, the shortest closed path through it (`[a, b, a]`), each cycle once."""
        inside = {m for m in self.modules if m == within or m.startswith(within + ".")}
        edges = {m: {n for n in self.internal[m] if n in inside} for m in inside}
        found: dict[tuple[str, ...], list[str]] = {}
        for group in _strongly_connected(edges):
            if len(group) == 1 and next(iter(group)) not in edges[next(iter(group))]:
                continue
            for member in sorted(group):
                cycle = _path(member, lambda m, g=group: sorted(edges[m] & g), member)
                ring = cycle[:-1]
                first = ring.index(min(ring))  # one spelling per cycle, from its least module
                key = tuple(ring[first:] + ring[:first])
                found.setdefault(key, [*key, key[0]])
        return sorted(found.values())

    def chain_to(self, start: str, reaches: Callable[[str], bool],
                 through: Callable[[str], bool] = lambda _m: True) -> list[list[str]]:
        """Shortest import chains from `start` to each external package or project module
        for which `reaches` is true, going only through project modules `through` admits."""
        chains, seen = [], {start}
        queue: deque[list[str]] = deque([[start]])
        while queue:
            chain = queue.popleft()
            here = chain[-1]
            # Deepest first, so `from bi.rebuild import main` is reported as bi.rebuild, not
            # again as the package bi it also runs.
            targets = sorted(self.executes(here) | self.external.get(here, set()),
                             key=lambda m: (-m.count("."), m))
            for target in targets:
                if target in seen:
                    continue
                seen.add(target)
                if reaches(target):
                    chains.append([*chain, target])
                    parts = target.split(".")
                    seen.update(".".join(parts[:end]) for end in range(1, len(parts)))
                elif target in self.modules and through(target):
                    queue.append([*chain, target])
        return chains

    def line_of(self, importer: str, imported: str) -> int:
        """The line of the import that makes `importer` run `imported` (a package counts as
        run by the import of any module inside it)."""
        lines = [line for (source, target), line in self.lines.items()
                 if source == importer and (target == imported
                                            or target.startswith(imported + "."))]
        return min(lines, default=0)


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _strongly_connected(edges: Mapping[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph is small, but recursion limits are not)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _path(start: str, step: Callable[[str], list[str]], goal: str) -> list[str]:
    """Shortest path start → … → goal (at least one step), breadth first."""
    queue: deque[list[str]] = deque([[start]])
    seen: set[str] = set()
    while queue:
        path = queue.popleft()
        for nxt in step(path[-1]):
            if nxt == goal:
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                queue.append([*path, nxt])
    return [start]


# -- the project's layout ----------------------------------------------------------------------

def service_names(root: Path = ROOT) -> list[str]:
    """Every service package: `services/<name>/<name>/__init__.py`."""
    return sorted(p.parent.name for p in root.glob("services/*/*/__init__.py")
                  if p.parent.name == p.parent.parent.name)


def project_graph(root: Path = ROOT) -> ImportGraph:
    dirs = [root / "chassis", root / "contracts",
            *(root / "services" / name / name for name in service_names(root))]
    return ImportGraph.from_tree(dirs, root)


def is_domain(name: str, services: Iterable[str]) -> bool:
    return _is_layer(name, services, "domain")


def is_use_case(name: str, services: Iterable[str]) -> bool:
    return _is_layer(name, services, "use_cases")


def _is_layer(name: str, services: Iterable[str], layer: str) -> bool:
    parts = name.split(".")
    return len(parts) >= 2 and parts[0] in set(services) and parts[1] == layer


# -- the rules: each returns the offenders, one line each ----------------------------------------

def chassis_cycles(graph: ImportGraph) -> list[str]:
    return [" → ".join(cycle) for cycle in graph.cycles("chassis")]


def chassis_naming_services(graph: ImportGraph, services: Iterable[str]) -> list[str]:
    """chassis importing a service package, directly or through other project modules."""
    services = set(services)
    found = []
    for name in sorted(m for m in graph.modules if m.split(".")[0] == "chassis"):
        for chain in graph.chain_to(name, lambda m: m.split(".")[0] in services,
                                    through=lambda m: m.split(".")[0] not in services):
            found.append(_described(graph, chain))
    return sorted(set(found))


def services_importing_services(graph: ImportGraph, services: Iterable[str]) -> list[str]:
    services = set(services)
    found = []
    for name in sorted(graph.modules):
        own = name.split(".")[0]
        if own not in services:
            continue
        for imported in sorted(graph.internal[name]):
            other = imported.split(".")[0]
            if other in services and other != own:
                found.append(_described(graph, [name, imported]))
    return found


def framework_reached(graph: ImportGraph, modules: Iterable[str],
                      frameworks: frozenset[str] = FRAMEWORKS,
                      through: Callable[[str], bool] = lambda _m: True) -> list[str]:
    """Each module that imports a framework, directly or through the project modules `through`
    admits, with the shortest chain that does it."""
    found = []
    for name in sorted(modules):
        for chain in graph.chain_to(name, lambda m: m in frameworks, through):
            found.append(_described(graph, chain))
    return found


def commits(graph: ImportGraph, modules: Iterable[str]) -> list[str]:
    """Every `<something>.commit(...)` call in the given modules."""
    found = []
    for name in sorted(modules):
        module = graph.modules[name]
        for node in ast.walk(ast.parse(module.source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "commit":
                found.append(f"{module.path}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def too_long(graph: ImportGraph, modules: Iterable[str],
             limit: int = SERVICE_FILE_LIMIT) -> list[str]:
    found = []
    for name in sorted(modules):
        module = graph.modules[name]
        count = len(module.source.splitlines())
        if count >= limit:
            found.append(f"{module.path}: {count} lines (limit {limit})")
    return found


def _described(graph: ImportGraph, chain: list[str]) -> str:
    """`booking.domain (booking/domain.py:3) → chassis.http (chassis/http.py:14) → werkzeug`"""
    steps = []
    for here, nxt in zip(chain, chain[1:], strict=False):
        module = graph.modules[here]
        steps.append(f"{here} ({module.path}:{graph.line_of(here, nxt)})")
    return " → ".join([*steps, chain[-1]])


def report(title: str, offenders: list[str]) -> str:
    return f"{title} ({len(offenders)}):\n  " + "\n  ".join(offenders)

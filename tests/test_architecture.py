"""Rules of the package's structure that import-linter (run by ./tests/run) does not express."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cache_dashboard"
#: Function-level imports of the package's own modules that are allowed, and why: the only one is
#: AppConfig.ready(), where Django's app loading requires it (the modules it imports use models).
ALLOWED_LATE_IMPORTS = {("apps.py", "ready")}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _own(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "cache_dashboard"
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "cache_dashboard" for alias in node.names)
    return False


def test_no_function_level_import_of_the_package_s_own_modules() -> None:
    found = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                place = (str(path.relative_to(PACKAGE)), function.name)
                if _own(node) and place not in ALLOWED_LATE_IMPORTS:
                    found.append(f"{place[0]}:{node.lineno} in {function.name}()")
    assert found == [], "import at module level, or move the code to the layer it belongs to"


def test_no_backend_name_tests_outside_the_adapters() -> None:
    # Each adapter owns its backend's quirks: nobody else asks which backend it is.
    pattern = re.compile(r"""\.name\s*[!=]=\s*["'](locmem|file|db|dummy|memcached|redis|django_redis|unknown)["']""")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in _modules()
        if "adapters" not in path.relative_to(PACKAGE).parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_the_package_ships_its_type_information_and_license() -> None:
    assert (PACKAGE / "py.typed").is_file()
    assert "MIT License" in (PACKAGE.parent / "LICENSE").read_text(encoding="utf-8")
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = "MIT"' in pyproject and 'license-files = ["LICENSE"]' in pyproject
    assert '"py.typed"' in pyproject  # in package-data: the wheel carries it

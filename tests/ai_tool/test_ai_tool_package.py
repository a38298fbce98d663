"""The package itself: seed 003's module files, py.typed, standard library only."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import ai_tool

PACKAGE = Path(ai_tool.__file__).parent

SEED_MODULES = [
    "ai_tool",
    "ai_tool_manager",
    "ai_tool_exceptions",
    "ai_tool_definition",
    "ai_tool_parameter",
    "ai_tool_operation_definition",
    "ai_tool_call",
    "ai_tool_result",
    "ai_tool_config",
    "ai_tool_registered",
]


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_seed_module_files_exist_and_their_public_names_are_re_exported():
    assert (PACKAGE / "py.typed").is_file()
    for name in SEED_MODULES:
        module = importlib.import_module(f"ai_tool.{name}")
        public = [
            n for n, v in vars(module).items() if isinstance(v, type) and n.startswith("AITool")
        ]
        public = [n for n in public if getattr(module, n).__module__ == module.__name__]
        assert public, name
        for attribute in public:
            assert getattr(ai_tool, attribute) is getattr(module, attribute), attribute
            assert attribute in ai_tool.__all__


def test_the_package_imports_only_the_standard_library_and_itself():
    outside = {
        (str(path.relative_to(PACKAGE)), module)
        for path in PACKAGE.rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] != "ai_tool" and module.split(".")[0] not in sys.stdlib_module_names
    }
    assert outside == set()

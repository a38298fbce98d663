"""``code_execution.allowed_packages`` enforced inside the real bubblewrap sandbox."""

from __future__ import annotations

import pytest
from code_data_helpers import body, user

from masterai.registry import ToolRegistry
from masterai.sandbox import CodeExecutionEnvironment, CodeExecutionRequest, ExecutionResult
from masterai.sandbox.packages import PackageIndex, index_for
from masterai.settings import SandboxSettings


async def run(
    env: CodeExecutionEnvironment, code: str, allowed: list[str] | None, language: str = "python"
) -> ExecutionResult:
    return await env.execute_code(
        CodeExecutionRequest(code=code, language=language, allowed_packages=allowed, timeout=60)
    )


async def test_a_user_allowed_only_numpy_cannot_import_pandas(
    environment: CodeExecutionEnvironment,
) -> None:
    code = "import numpy as np\nprint(int(np.arange(4).sum()))\nimport pandas\nprint('no')\n"
    result = await run(environment, code, ["numpy"])
    assert result.output == "6\n"
    assert result.exit_code == 1
    last = result.error.strip().splitlines()[-1]
    assert "PackageNotAllowedError" in last
    assert "'pandas'" in last
    assert "code_execution.allowed_packages" in last
    assert "allowed: numpy" in last


async def test_the_denial_is_an_import_error_a_program_can_catch(
    environment: CodeExecutionEnvironment,
) -> None:
    code = (
        "try:\n    import scipy\nexcept ImportError as e:\n    print(type(e).__mro__[2].__name__)\n"
    )
    result = await run(environment, code, ["numpy"])
    assert result.ok, result.error
    assert result.output == "ImportError\n"


async def test_importlib_cannot_bypass_the_policy(environment: CodeExecutionEnvironment) -> None:
    result = await run(environment, "import importlib\nimportlib.import_module('sklearn')\n", [])
    assert result.exit_code == 1
    assert "package 'scikit-learn' is not in code_execution.allowed_packages" in result.error


async def test_an_allowed_package_imports_its_own_dependencies(
    environment: CodeExecutionEnvironment,
) -> None:
    # pandas imports numpy, dateutil, pytz and its submodules internally.
    code = (
        "import pandas as pd\n"
        "df = pd.DataFrame({'d': pd.to_datetime(['2024-01-02']), 'n': [3]})\n"
        "print(df['d'].dt.year.iloc[0] + df['n'].sum())\n"
    )
    result = await run(environment, code, ["pandas"])
    assert result.ok, result.error
    assert result.output == "2027\n"


async def test_a_dependency_loaded_by_a_package_is_still_not_importable_by_the_program(
    environment: CodeExecutionEnvironment,
) -> None:
    result = await run(environment, "import pandas\nimport numpy\n", ["pandas"])
    assert result.exit_code == 1
    assert "import of 'numpy' is not allowed" in result.error


async def test_a_package_may_be_named_by_distribution_or_import_name(
    environment: CodeExecutionEnvironment,
) -> None:
    code = (
        "from sklearn.linear_model import LinearRegression\n"
        "print(round(LinearRegression().fit([[0], [1]], [0, 2]).coef_[0], 6))\n"
    )
    for name in ("scikit-learn", "sklearn"):
        result = await run(environment, code, [name])
        assert result.ok, result.error
        assert result.output == "2.0\n"


async def test_the_standard_library_and_the_programs_own_modules_stay_free(
    environment: CodeExecutionEnvironment,
) -> None:
    result = await environment.execute_code(
        CodeExecutionRequest(
            code="import sys\nsys.path.insert(0, '.')\nimport json, csv, helper\nprint(helper.X)\n",
            language="python",
            files={"helper.py": "X = 41 + 1\n"},
            allowed_packages=[],
        )
    )
    assert result.ok, result.error
    assert result.output == "42\n"


async def test_a_wildcard_allows_every_curated_package(
    environment: CodeExecutionEnvironment,
) -> None:
    code = (
        "import scipy.stats, pyarrow, jsonschema, duckdb\n"
        "print(duckdb.sql('select 42').fetchone()[0])\n"
    )
    result = await run(environment, code, ["*"])
    assert result.ok, result.error
    assert result.output == "42\n"


async def test_javascript_requires_only_allowed_packages(
    environment: CodeExecutionEnvironment,
) -> None:
    code = (
        "const _ = require('lodash');\n"
        "console.log(_.sum([1, 2, 3]));\n"
        "try { require('papaparse'); } catch (e) { console.log(e.code, e.message); }\n"
    )
    result = await run(environment, code, ["lodash"], "javascript")
    assert result.ok, result.error
    first, second = result.output.splitlines()
    assert first == "6"
    assert second.startswith("MODULE_NOT_FOUND require of 'papaparse' is not allowed")
    assert "code_execution.allowed_packages" in second


async def test_a_javascript_package_requires_its_dependencies_but_the_program_cannot(
    environment: CodeExecutionEnvironment,
) -> None:
    code = (
        "const Ajv = require('ajv');\n"
        "console.log(new Ajv().validate({type: 'integer'}, 3));\n"
        "require('fast-uri');\n"
    )
    result = await run(environment, code, ["ajv"], "javascript")
    assert result.output == "true\n"
    assert result.exit_code == 1
    assert "require of 'fast-uri' is not allowed" in result.error


async def test_without_a_policy_every_package_loads(environment: CodeExecutionEnvironment) -> None:
    result = await run(
        environment, "console.log(require('dayjs')('2024-03-04').month())", None, "javascript"
    )
    assert result.ok, result.error
    assert result.output == "2\n"


def test_the_policy_closes_over_dependencies_by_import_name() -> None:
    index = index_for("python", SandboxSettings())
    assert isinstance(index, PackageIndex)
    policy = index.policy(["scikit-learn"])
    assert policy["direct"] == ["sklearn"]
    closure = policy["closure"]
    assert isinstance(closure, list)
    assert {"sklearn", "scipy", "numpy", "joblib", "threadpoolctl"} <= set(closure)
    assert "pandas" not in closure


@pytest.mark.parametrize("packages", [{"numpy"}, set()])
async def test_the_registry_runs_a_principals_code_under_its_package_list(
    registry: ToolRegistry, packages: set[str]
) -> None:
    result = await registry.execute_tool(
        "code",
        {"operation": "execute_code", "language": "python", "code": "import pandas"},
        user("nina", packages),
    )
    assert result.ok
    out = body(result.content)["result"]
    assert out["exit_code"] == 1
    assert "import of 'pandas' is not allowed" in out["error"]


async def test_a_principal_allowed_everything_imports_pandas(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "code",
        {"operation": "execute_code", "language": "python", "code": "import pandas; print('ok')"},
        user("ola", {"*"}),
    )
    assert result.ok
    assert body(result.content)["result"]["output"] == "ok\n"


async def test_a_program_cannot_rewrite_its_policy(environment: CodeExecutionEnvironment) -> None:
    code = (
        "try:\n"
        "    open('/sandbox/packages.json', 'w').write('{}')\n"
        "except OSError as e:\n"
        "    print(type(e).__name__)\n"
    )
    result = await run(environment, code, ["numpy"])
    assert result.ok, result.error
    assert result.output in ("PermissionError\n", "OSError\n")


async def test_sql_runs_are_not_guarded(environment: CodeExecutionEnvironment) -> None:
    # The SQL runner imports duckdb itself; a package list never stops SQL.
    result = await run(environment, "SELECT 6 * 7 AS answer;", [], "sql")
    assert result.ok, result.error
    assert result.output == "answer\n42\n"

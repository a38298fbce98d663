"""``code.transform_data``: the caller's code over data in the real sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from code_data_helpers import body, user

from masterai.registry import ExecutionContext, ToolRegistry

ACME = user("ann", companies={"acme"})


async def transform(
    registry: ToolRegistry, args: dict[str, Any], context: ExecutionContext = ACME
) -> Any:
    return await registry.execute_tool("code", {"operation": "transform_data", **args}, context)


def acme_file(workspace: Path, name: str, content: str) -> str:
    path = workspace / "companies" / "acme" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return f"companies/acme/{name}"


async def test_python_code_assigns_a_result_computed_from_inline_data(
    registry: ToolRegistry,
) -> None:
    result = await transform(
        registry,
        {"data": [{"n": 1}, {"n": 2}], "code": "result = {'total': sum(r['n'] for r in data)}"},
    )
    assert result.ok, result.error
    out = body(result.content)["result"]
    assert out["result"] == {"total": 3}
    assert out["source"] == "result"


async def test_printed_json_is_the_answer_when_no_result_is_assigned(
    registry: ToolRegistry,
) -> None:
    result = await transform(
        registry, {"data": {"a": [1, 2]}, "code": "import json\nprint(json.dumps(data['a'][::-1]))"}
    )
    assert result.ok, result.error
    out = body(result.content)["result"]
    assert out["result"] == [2, 1]
    assert out["source"] == "stdout"


async def test_data_that_looks_like_code_is_never_run(registry: ToolRegistry) -> None:
    hostile = '\'); import os; os._exit(3) #"""\nraise SystemExit(4)'
    result = await transform(registry, {"data": hostile, "code": "result = data"})
    assert result.ok, result.error
    assert body(result.content)["result"]["result"] == hostile


async def test_a_csv_file_arrives_as_a_dataframe_and_a_frame_comes_back_as_rows(
    registry: ToolRegistry, workspace: Path
) -> None:
    path = acme_file(workspace, "sales.csv", "day,amount\n1,10\n2,32\n2,8\n")
    code = "result = data.groupby('day', as_index=False)['amount'].sum()"
    result = await transform(registry, {"input_file": path, "code": code})
    assert result.ok, result.error
    assert body(result.content)["result"]["result"] == [
        {"day": 1, "amount": 10},
        {"day": 2, "amount": 40},
    ]


async def test_a_table_result_is_written_to_a_parquet_file_in_the_workspace(
    registry: ToolRegistry, workspace: Path
) -> None:
    path = acme_file(workspace, "sales.csv", "day,amount\n1,10\n2,32\n")
    result = await transform(
        registry,
        {
            "input_file": path,
            "code": "result = data.assign(double=data.amount * 2)",
            "output": "companies/acme/out/sales.parquet",
        },
    )
    assert result.ok, result.error
    out = body(result.content)["result"]
    assert out["saved"] == ["companies/acme/out/sales.parquet"]
    written = workspace / "companies/acme/out/sales.parquet"
    rows = duckdb.sql(f"SELECT day, double FROM '{written}' ORDER BY day").fetchall()
    assert rows == [(1, 20), (2, 64)]


async def test_a_json_result_is_written_to_a_json_file(
    registry: ToolRegistry, workspace: Path
) -> None:
    result = await transform(
        registry,
        {"data": [3, 1, 2], "code": "result = sorted(data)", "output": "companies/acme/s.json"},
    )
    assert result.ok, result.error
    assert (workspace / "companies/acme/s.json").read_text() == "[\n  1,\n  2,\n  3\n]\n"


async def test_javascript_gets_csv_rows_as_objects(registry: ToolRegistry, workspace: Path) -> None:
    path = acme_file(workspace, "t.csv", "name,score\nab,3\ncd,4\n")
    code = "result = data.map((r) => r.name.toUpperCase() + ':' + r.score * 2);"
    result = await transform(registry, {"input_file": path, "code": code, "language": "javascript"})
    assert result.ok, result.error
    assert body(result.content)["result"]["result"] == ["AB:6", "CD:8"]


async def test_javascript_code_may_await_its_result(registry: ToolRegistry) -> None:
    code = "result = Promise.resolve(data.x + 1);"
    result = await transform(registry, {"data": {"x": 41}, "code": code, "language": "javascript"})
    assert result.ok, result.error
    assert body(result.content)["result"]["result"] == 42


async def test_failing_code_is_an_error_naming_the_exception(registry: ToolRegistry) -> None:
    result = await transform(registry, {"data": {}, "code": "result = data['missing']"})
    assert not result.ok
    assert "exited with status 1" in (result.error or "")
    assert "KeyError: 'missing'" in (result.error or "")


async def test_the_package_policy_applies_to_transform_code(registry: ToolRegistry) -> None:
    context = user("bo", packages={"numpy"})
    result = await transform(registry, {"data": [1], "code": "import pandas"}, context)
    assert not result.ok
    assert "import of 'pandas' is not allowed" in (result.error or "")


async def test_a_csv_is_loaded_for_a_user_not_allowed_pandas_who_still_cannot_import_it(
    registry: ToolRegistry, workspace: Path
) -> None:
    path = acme_file(workspace, "n.csv", "n\n1\n2\n")
    context = user("cy", packages=set(), companies={"acme"})
    ok = await transform(
        registry, {"input_file": path, "code": "result = int(data.n.sum())"}, context
    )
    assert ok.ok, ok.error
    assert body(ok.content)["result"]["result"] == 3
    denied = await transform(registry, {"input_file": path, "code": "import pandas"}, context)
    assert "import of 'pandas' is not allowed" in (denied.error or "")


async def test_another_companys_file_is_refused_before_anything_runs(
    registry: ToolRegistry, workspace: Path
) -> None:
    path = acme_file(workspace, "secret.csv", "a\n1\n")
    result = await transform(
        registry, {"input_file": path, "code": "result = 1"}, user("eve", companies={"other"})
    )
    assert not result.ok
    assert result.status == "denied"


async def test_data_and_input_file_together_are_one_clear_error(registry: ToolRegistry) -> None:
    result = await transform(
        registry, {"data": [1], "input_file": "companies/acme/x.csv", "code": "result = 1"}
    )
    assert not result.ok
    assert "exactly one of 'data' and 'input_file'" in (result.error or "")


async def test_an_unsupported_output_type_is_refused(registry: ToolRegistry) -> None:
    result = await transform(
        registry, {"data": [1], "code": "result = 1", "output": "companies/acme/x.xlsx"}
    )
    assert not result.ok
    assert "Unsupported file type for output: 'companies/acme/x.xlsx'" in (result.error or "")

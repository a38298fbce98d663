"""``process_csv`` (DuckDB over workspace CSVs) and ``read_file``/``write_file``."""

from __future__ import annotations

import csv
import json
import resource
from pathlib import Path
from typing import Any

import duckdb
import pytest
from support import make_settings, run

from masterai.registry import ToolRegistry
from masterai.security import Principal
from masterai.store import Database
from masterai.tools import build_registry
from masterai.tools.files import FilesystemTool

SALES = (
    "region,product,amount,note\n"
    "north,a,10,ok\nnorth,b,20,=HYPERLINK(1)\nsouth,a,30,-2+3\nsouth,a,30,-2+3\n"
)


def put(settings_home: Path, path: str, text: str) -> None:
    target = settings_home / "workspace" / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    put(home, "companies/acme/sales.csv", SALES)
    put(home, "companies/acme/products.csv", "product,label\na,Apples\nb,Bananas\n")
    put(home, "companies/globex/secret.csv", "x\n1\n")
    return home


async def csv_call(
    registry: ToolRegistry, who: Principal, ops: list[dict[str, Any]], **args: Any
) -> Any:
    return await run(
        registry, who, "process_csv", file="companies/acme/sales.csv", operations=ops, **args
    )


async def test_filter_derive_aggregate_sort_gives_preview_and_count(
    registry: ToolRegistry, people: dict[str, Principal], home: Path
) -> None:
    result = await csv_call(
        registry,
        people["ada"],
        [
            {"op": "filter", "where": "amount >= 20"},
            {"op": "derive", "name": "double", "expr": "amount * 2"},
            {
                "op": "aggregate",
                "by": "region",
                "metrics": {
                    "total": "sum(double)",
                    "n": "count(*)",
                    "p50": "percentile(amount, 0.5)",
                },
            },
            {"op": "sort", "by": "total", "descending": True},
        ],
    )

    assert result.ok, result.error
    out = result.data["result"]
    assert out["row_count"] == 2
    assert out["preview"] == [
        {"region": "south", "total": 120, "n": 2, "p50": 30.0},
        {"region": "north", "total": 40, "n": 1, "p50": 20.0},
    ]


async def test_select_rename_dedupe_join_pivot_limit(
    registry: ToolRegistry, people: dict[str, Principal], home: Path
) -> None:
    joined = await csv_call(
        registry,
        people["ada"],
        [
            {"op": "dedupe"},
            {"op": "join", "file": "companies/acme/products.csv", "on": "product", "how": "left"},
            {"op": "select", "columns": ["region", "label", "amount"]},
            {"op": "rename", "mapping": {"label": "fruit"}},
            {"op": "sort", "by": ["region", "fruit"]},
            {"op": "limit", "n": 2},
        ],
    )
    pivot = await csv_call(
        registry,
        people["ada"],
        [
            {
                "op": "pivot",
                "index": "region",
                "columns": "product",
                "values": "amount",
                "agg": "sum",
            },
            {"op": "sort", "by": "region"},
        ],
    )

    assert joined.data["result"]["preview"] == [
        {"region": "north", "fruit": "Apples", "amount": 10},
        {"region": "north", "fruit": "Bananas", "amount": 20},
    ]
    assert pivot.data["result"]["preview"] == [
        {"region": "north", "a": 10, "b": 20},
        {"region": "south", "a": 60, "b": None},
    ]


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        ({"op": "filter", "where": "amount > (SELECT 1)"}, "not allowed"),
        ({"op": "filter", "where": "read_csv('/etc/passwd') IS NULL"}, "read_csv"),
        ({"op": "filter", "where": "amout > 1"}, "unknown column 'amout'"),
        ({"op": "filter", "where": "amount > 1; DROP TABLE x"}, "not allowed"),
        ({"op": "derive", "name": "x", "expr": "sum(amount)"}, "only allowed in aggregate"),
        ({"op": "aggregate", "metrics": {"t": "amount"}}, "needs an aggregate"),
        ({"op": "select", "columns": ["nope"]}, "unknown column 'nope'"),
        ({"op": "explode"}, "got 'explode'"),
    ],
    ids=lambda v: v if isinstance(v, str) else v.get("op"),
)
async def test_bad_steps_are_refused_naming_the_step(
    registry: ToolRegistry,
    people: dict[str, Principal],
    home: Path,
    step: dict[str, Any],
    problem: str,
) -> None:
    result = await csv_call(registry, people["ada"], [{"op": "limit", "n": 10}, step])

    assert result.status == "invalid", result.error
    assert "operations[1]" in (result.error or "") and problem in (result.error or "")


async def test_csv_output_neutralises_formulas_and_json_parquet_are_written(
    registry: ToolRegistry, people: dict[str, Principal], home: Path
) -> None:
    made = [
        await csv_call(registry, people["ada"], [], output=f"companies/acme/out/r.{fmt}")
        for fmt in ("csv", "json", "parquet")
    ]

    assert all(r.ok for r in made), [r.error for r in made]
    out = home / "workspace" / "companies" / "acme" / "out"
    rows = list(csv.DictReader((out / "r.csv").read_text().splitlines()))
    assert [r["note"] for r in rows] == ["ok", "'=HYPERLINK(1)", "'-2+3", "'-2+3"]
    assert [r["amount"] for r in rows] == ["10", "20", "30", "30"]
    assert json.loads((out / "r.json").read_text())[1]["note"] == "=HYPERLINK(1)"
    assert duckdb.sql(f"SELECT count(*) FROM '{out / 'r.parquet'}'").fetchone() == (4,)
    assert made[0].data["result"]["row_count"] == 4


async def test_replacing_an_output_needs_approval(
    registry: ToolRegistry, people: dict[str, Principal], home: Path
) -> None:
    first = await csv_call(
        registry, people["ada"], [], output="companies/acme/o.csv", approve=False
    )
    second = await csv_call(
        registry,
        people["ada"],
        [{"op": "limit", "n": 1}],
        output="companies/acme/o.csv",
        approve=False,
    )

    assert first.ok and second.status == "denied"
    assert len((home / "workspace/companies/acme/o.csv").read_text().splitlines()) == 5


async def test_files_of_other_companies_are_denied(
    registry: ToolRegistry, people: dict[str, Principal], home: Path
) -> None:
    read = await run(
        registry, people["ada"], "process_csv", file="companies/globex/secret.csv", operations=[]
    )
    joined = await csv_call(
        registry, people["ada"], [{"op": "join", "file": "companies/globex/secret.csv", "on": "x"}]
    )
    written = await csv_call(registry, people["ada"], [], output="companies/globex/x.csv")

    assert [read.status, joined.status, written.status] == ["denied", "denied", "denied"]
    assert not (home / "workspace/companies/globex/x.csv").exists()


async def test_a_million_rows_are_processed_within_the_memory_limit(
    people: dict[str, Principal], tmp_path: Path, store: Database
) -> None:
    settings = make_settings(tmp_path, integrations={"csv_memory_limit": "128MB"})
    registry = build_registry(settings, store)
    path = settings.workspace / "companies/acme/big.csv"
    path.parent.mkdir(parents=True)
    duckdb.sql(
        "COPY (SELECT i AS id, 'r' || (i % 7) AS region, (i % 1000) / 10.0 AS amount "
        f"FROM range(1000000) t(i)) TO '{path}' (HEADER)"
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    result = await run(
        registry,
        people["ada"],
        "process_csv",
        file="companies/acme/big.csv",
        operations=[
            {"op": "filter", "where": "amount > 50"},
            {
                "op": "aggregate",
                "by": "region",
                "metrics": {"n": "count(*)", "total": "sum(amount)"},
            },
        ],
        output="companies/acme/big-summary.csv",
    )

    assert result.ok, result.error
    preview = result.data["result"]["preview"]
    assert result.data["result"]["row_count"] == 7
    assert sum(r["n"] for r in preview) == 499_000
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 400


async def test_read_file_and_write_file_are_the_filesystem_tools_operations(
    registry: ToolRegistry, people: dict[str, Principal], home: Path
) -> None:
    tool = registry.get("integration")
    assert tool is not None
    fs_ops = FilesystemTool.get_operation_definitions  # the same handlers, not a copy
    ops = tool.tool.get_operation_definitions()
    assert ops["read_file"].handler.__qualname__ == ops["write_file"].handler.__qualname__
    assert fs_ops is not None

    wrote = await run(
        registry, people["ada"], "write_file", path="companies/acme/n.txt", content="hi"
    )
    read = await run(registry, people["ada"], "read_file", path="companies/acme/n.txt")
    unapproved = await run(
        registry,
        people["ada"],
        "write_file",
        path="companies/acme/n.txt",
        content="x",
        approve=False,
    )
    other = await run(registry, people["ada"], "read_file", path="companies/globex/secret.csv")

    assert wrote.ok and read.content == "hi"
    assert unapproved.status == "denied" and other.status == "denied"

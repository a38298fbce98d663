"""``masterai chat`` and ``masterai ask`` through Typer's runner, with a scripted model file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from masterai.cli import app
from masterai.llm import NO_MODEL_MESSAGE

runner = CliRunner()


def script(tmp_path: Path, *steps: dict[str, Any]) -> str:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(list(steps)))
    return f"scripted:{path}"


def plan(*steps: dict[str, Any]) -> dict[str, Any]:
    return {
        "tool_calls": [
            {"name": "propose_plan", "arguments": {"summary": "s", "steps": list(steps)}}
        ]
    }


CLOCK = {"tool": "clock", "operation": "get_time", "arguments": {}, "purpose": "know the time"}


def write(path: str, content: str) -> dict[str, Any]:
    return {
        "tool": "filesystem",
        "operation": "write_file",
        "arguments": {"path": path, "content": content},
        "purpose": "save",
    }


@pytest.fixture(autouse=True)
def no_model(masterai_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("MASTERAI_MODEL", "MASTERAI_LLM__MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MASTERAI_LLM__SCRIPTED_DIR", str(tmp_path))  # where script() writes
    monkeypatch.chdir(masterai_home.parent)  # no stray .env
    return masterai_home


@pytest.fixture
def initialised(no_model: Path) -> Path:
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    return no_model


def test_without_a_model_both_commands_say_how_to_configure_one() -> None:
    for args in (["ask", "hi"], ["chat"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1
        assert result.stderr.strip() == f"error: {NO_MODEL_MESSAGE}"


def test_ask_runs_a_read_only_plan_and_prints_json(tmp_path: Path, initialised: Path) -> None:
    model = script(tmp_path, plan(CLOCK), {"text": "It is late [1]."})
    result = runner.invoke(app, ["ask", "time?", "--model", model, "--yes-read-only", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "completed" and data["text"] == "It is late [1]."
    assert data["actions"] == ["[1] clock.get_time: ok"]
    assert data["plans"][0]["steps"][0]["result"]["ok"] is True


def test_ask_never_runs_a_mutating_plan(tmp_path: Path, initialised: Path) -> None:
    model = script(tmp_path, plan(write("shared/a.txt", "x")))
    result = runner.invoke(app, ["ask", "write", "--model", model, "--yes-read-only", "--json"])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["status"] == "rejected"
    assert "filesystem.write_file" in data["text"]
    assert not (initialised / "workspace" / "shared" / "a.txt").exists()


def test_ask_never_runs_a_plan_that_spends_money_on_model_calls(
    tmp_path: Path, initialised: Path
) -> None:
    evaluate = {
        "tool": "configuration",
        "operation": "test_configuration",
        "arguments": {"company_id": "acme", "test_cases": ["hi"]},
        "purpose": "check the prompt",
    }
    model = script(tmp_path, plan(CLOCK, evaluate))
    result = runner.invoke(app, ["ask", "test", "--model", model, "--yes-read-only", "--json"])
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "rejected"
    assert "calls models, which costs money (configuration.test_configuration)" in data["text"]
    steps = data["plans"][0]["steps"]
    assert [(s["read_only"], s["calls_model"], s["result"]) for s in steps] == [
        (True, False, None),
        (True, True, None),
    ]


def test_ask_without_approval_flag_rejects_even_read_only_plans(
    tmp_path: Path, initialised: Path
) -> None:
    model = script(tmp_path, plan(CLOCK))
    result = runner.invoke(app, ["ask", "time?", "--model", model])
    assert result.exit_code == 2
    assert "pass --yes-read-only" in result.stdout


def test_ask_with_an_unknown_user_is_one_clear_error(tmp_path: Path, initialised: Path) -> None:
    model = script(tmp_path, {"text": "hi"})
    result = runner.invoke(app, ["ask", "hi", "--model", model, "--as", "nobody"])
    assert result.exit_code == 3
    assert result.stderr.startswith("error: denied: Unknown user 'nobody' (audit record ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_chat_streams_shows_the_plan_asks_and_runs_the_approved_plan(
    tmp_path: Path, initialised: Path
) -> None:
    model = script(
        tmp_path,
        {"text": "Hello there."},
        plan(write("shared/notes/a.txt", "hi")),
        {"text": "Wrote shared/notes/a.txt [1]."},
    )
    result = runner.invoke(app, ["chat", "--model", model], input="hello\nwrite a note\na\nexit\n")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Hello there." in out
    assert "filesystem.write_file" in out and "changes data" in out
    assert "Approve?" in out
    assert "Wrote shared/notes/a.txt [1]." in out
    assert "completed · 1 step(s) run" in out
    assert (initialised / "workspace" / "shared" / "notes" / "a.txt").read_text() == "hi"


def test_chat_rejecting_at_the_prompt_writes_nothing(tmp_path: Path, initialised: Path) -> None:
    model = script(tmp_path, plan(write("shared/b.txt", "x")))
    result = runner.invoke(app, ["chat", "--model", model], input="write\nr\n")
    assert result.exit_code == 0, result.output
    assert "Plan rejected; nothing was run." in result.stdout
    assert not (initialised / "workspace" / "shared" / "b.txt").exists()


def test_chat_asks_before_a_step_that_calls_a_model_and_says_it_costs_money(
    tmp_path: Path, initialised: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERAI_AGENT__AUTO_APPROVE_READ_ONLY", "true")
    free = runner.invoke(
        app,
        ["chat", "--model", script(tmp_path, plan(CLOCK), {"text": "noon"})],
        input="time\n",
    )
    assert "Approve?" not in free.stdout and "completed" in free.stdout  # the setting applies
    evaluate = {
        "tool": "configuration",
        "operation": "test_configuration",
        "arguments": {"company_id": "acme", "test_cases": ["hi"]},
        "purpose": "check the prompt",
    }
    model = script(tmp_path, plan(evaluate))
    result = runner.invoke(app, ["chat", "--model", model], input="test\nr\n")
    assert result.exit_code == 0, result.output
    assert "calls a model" in result.stdout and "(costs money)" in result.stdout
    assert "Approve?" in result.stdout  # asked although read-only plans are auto-approved
    assert "Plan rejected; nothing was run." in result.stdout


def test_chat_edit_takes_json_arguments_and_refuses_bad_json(
    tmp_path: Path, initialised: Path
) -> None:
    model = script(tmp_path, plan(write("shared/c.txt", "draft")), {"text": "ok"})
    keys = 'write\ne\n1\n{not json\ne\n1\n{"path": "shared/c.txt", "content": "final"}\na\nexit\n'
    result = runner.invoke(app, ["chat", "--model", model], input=keys)
    assert result.exit_code == 0, result.output
    assert "not JSON" in result.stdout
    assert (initialised / "workspace" / "shared" / "c.txt").read_text() == "final"


def test_without_masterai_init_the_local_admin_is_missing_and_says_so(tmp_path: Path) -> None:
    model = script(tmp_path, {"text": "hi"})
    result = runner.invoke(app, ["ask", "hi", "--model", model])
    assert result.exit_code == 1
    assert "run `masterai init` first" in result.stderr


def test_an_interrupted_plan_is_announced_and_resumed_with_resume(
    tmp_path: Path, initialised: Path
) -> None:
    from masterai.agent import AgentRepository, Plan, PlanStep
    from masterai.settings import Settings
    from masterai.store import open_database

    database = open_database(Settings())
    repository = AgentRepository(database)
    conversation = repository.ensure_conversation(None, "admin", "scripted:x")
    plan = Plan(
        conversation_id=conversation,
        request="write it",
        principal="admin",
        summary="write",
        status="approved",
        steps=[
            PlanStep(
                position=1,
                tool="filesystem",
                operation="write_file",
                arguments={"path": "shared/r.txt", "content": "resumed"},
                purpose="save",
                status="approved",
            )
        ],
    )
    repository.save_plan(plan)
    model = script(tmp_path, {"text": "Saved shared/r.txt [1]."})
    hint = runner.invoke(app, ["chat", "--model", model], input="exit\n")
    assert f"masterai chat --resume {plan.id}" in hint.stdout
    result = runner.invoke(app, ["chat", "--model", model, "--resume", plan.id], input="exit\n")
    assert result.exit_code == 0, result.output
    assert "Saved shared/r.txt [1]." in result.stdout
    assert (initialised / "workspace" / "shared" / "r.txt").read_text() == "resumed"
    assert repository.resumable("admin") == []


def test_model_text_in_the_plan_table_cannot_inject_markup(
    tmp_path: Path, initialised: Path
) -> None:
    step = {**CLOCK, "purpose": "[bold red]pwn[/bold red]"}
    model = script(tmp_path, plan(step))
    result = runner.invoke(app, ["chat", "--model", model], input="time\nr\nexit\n")
    assert result.exit_code == 0, result.output
    # Unescaped, Rich would swallow the tags and print only "pwn".
    assert "[bold" in result.stdout and "pwn" in result.stdout


def test_input_ending_at_the_approval_prompt_leaves_a_resumable_plan(
    tmp_path: Path, initialised: Path
) -> None:
    model = script(tmp_path, plan(write("shared/d.txt", "x")))
    result = runner.invoke(app, ["chat", "--model", model], input="write\n")
    assert result.exit_code == 0, result.output
    assert "interrupted; resume with `masterai chat --resume " in result.stdout
    assert not (initialised / "workspace" / "shared" / "d.txt").exists()

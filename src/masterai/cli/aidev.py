"""``masterai datasets ...`` and ``masterai finetune ...``: training data, fine-tunes, evaluations.

Every command is an ``aidev`` call through the registry (permission check, validation,
audit record), as the local super admin or ``--as USER``.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from masterai.cli.context import AsOption, JsonOption, YesOption, call_given, refuse_arguments, show

datasets_app = typer.Typer(
    help="Training datasets built from a company's conversations (scrubbed, versioned).",
    no_args_is_help=True,
)
finetune_app = typer.Typer(
    help="Fine-tune jobs (OpenAI) and model evaluations on test sets.", no_args_is_help=True
)

JobArg = Annotated[int, typer.Argument(help="The fine-tune job id.")]


def register(app: typer.Typer) -> None:
    """Add the ``datasets`` and ``finetune`` command groups to ``app``."""
    app.add_typer(datasets_app, name="datasets")
    app.add_typer(finetune_app, name="finetune")


_aidev = partial(call_given, "aidev")
"""One ``aidev`` call; options not given (``None``) are left out."""


@datasets_app.command("prepare")
def prepare(
    company: Annotated[str, typer.Argument(help="The company whose conversations are used.")],
    name: Annotated[str | None, typer.Option("--name", help="Dataset name.")] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="openai_chat (default), preference or generic."),
    ] = None,
    resolved: Annotated[
        bool | None, typer.Option("--resolved/--unresolved", help="Only (un)resolved ones.")
    ] = None,
    min_rating: Annotated[
        int | None, typer.Option("--min-rating", help="Lowest customer rating (1-5).")
    ] = None,
    not_escalated: Annotated[
        bool, typer.Option("--not-escalated", help="Leave out escalated conversations.")
    ] = False,
    date_from: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = None,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", help="Only this topic; repeat.")
    ] = None,
    validation: Annotated[
        float | None, typer.Option("--validation", help="Validation share, 0-0.5 (0.2).")
    ] = None,
    target_model: Annotated[
        str | None, typer.Option("--target-model", help="Model the dataset is for.")
    ] = None,
    as_user: AsOption = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Build a new dataset version under companies/COMPANY/datasets/NAME/ (scrubbed, split)."""
    filters = {
        "resolved": resolved,
        "min_rating": min_rating,
        "not_escalated": not_escalated or None,
        "date_from": date_from,
        "date_to": date_to,
        "topics": topic or None,
    }
    params = {
        "operation": "prepare_training_data",
        "company_id": company,
        "name": name,
        "format": fmt,
        "filters": {k: v for k, v in filters.items() if v is not None} or None,
        "validation_fraction": validation,
        "target_model": target_model,
    }
    show(_aidev(params, as_user=as_user, company=company, yes=yes), as_json)


def _hyperparameters(raw: str | None, as_user: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        refuse_arguments("aidev", raw, f"--hyperparameters is not JSON: {e}", as_user=as_user)
        raise  # not reached: refuse_arguments ends the command


@finetune_app.command("start")
def start(
    model: Annotated[str, typer.Argument(help="provider:model to fine-tune.")],
    dataset: Annotated[str, typer.Argument(help="Workspace path of a dataset version.")],
    validation: Annotated[
        str | None, typer.Option("--validation", help="Validation .jsonl (default: the folder's).")
    ] = None,
    hyperparameters: Annotated[
        str | None,
        typer.Option("--hyperparameters", help='JSON, e.g. {"n_epochs": 3}.'),
    ] = None,
    suffix: Annotated[str | None, typer.Option("--suffix", help="Model name suffix.")] = None,
    as_user: AsOption = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Upload a dataset and start a fine-tune job."""
    params = {
        "operation": "fine_tune_model",
        "model_id": model,
        "dataset": dataset,
        "validation_dataset": validation,
        "hyperparameters": _hyperparameters(hyperparameters, as_user),
        "suffix": suffix,
    }
    show(_aidev(params, as_user=as_user, yes=yes), as_json)


@finetune_app.command("show")
def show_job(
    job: JobArg,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ask the provider first (stores what it says).")
    ] = False,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """A job's status, events, resulting model and cost."""
    operation = "refresh_fine_tune_job" if refresh else "get_fine_tune_job"
    show(_aidev({"operation": operation, "job_id": job}, as_user=as_user), as_json)


@finetune_app.command("list")
def list_jobs(
    company: Annotated[str | None, typer.Option("--company", help="Only this company's.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fine-tune jobs, newest first."""
    params = {"operation": "list_fine_tune_jobs", "company_id": company, "status": status}
    show(_aidev(params, as_user=as_user, company=company), as_json)


@finetune_app.command("cancel")
def cancel(
    job: JobArg, as_user: AsOption = None, yes: YesOption = False, as_json: JsonOption = False
) -> None:
    """Cancel an unfinished job."""
    params = {"operation": "cancel_fine_tune_job", "job_id": job}
    show(_aidev(params, as_user=as_user, yes=yes), as_json)


@finetune_app.command("evaluate")
def evaluate_model(
    model: Annotated[str, typer.Argument(help="provider:model to evaluate.")],
    cases: Annotated[
        Path | None,
        typer.Option("--cases", help="JSON array of {input, system?, expected?, assertions?}."),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="A dataset version (its validation split).")
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="exact, contains or rubric; repeat.")
    ] = None,
    judge: Annotated[str | None, typer.Option("--judge", help="Judge model (rubric).")] = None,
    as_user: AsOption = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Run a test set on a model; compare with every model run on the same test set."""
    if (cases is None) == (dataset is None):
        refuse_arguments("aidev", None, "give exactly one of --cases or --dataset", as_user=as_user)
    test_set: dict[str, Any] = {"dataset": dataset}
    if cases is not None:
        try:
            test_set = {"cases": json.loads(cases.read_text(encoding="utf-8")), "name": cases.stem}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            refuse_arguments("aidev", str(cases), f"--cases {str(cases)!r}: {e}", as_user=as_user)
    params = {
        "operation": "evaluate_model",
        "model_id": model,
        "test_set": test_set,
        "metrics": metric or None,
        "judge_model": judge,
    }
    show(_aidev(params, as_user=as_user, yes=yes), as_json)

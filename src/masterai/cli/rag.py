"""``masterai rag index|search|update``: a company's document collections.

Every command is an ``aidev`` call through the registry (permission check, validation,
audit record), as the local super admin or ``--as USER``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from masterai.cli.common import console, print_json
from masterai.cli.context import (
    AsOption,
    JsonOption,
    YesOption,
    acting_context,
    call_given,
    cli_approver,
    refuse_arguments,
    show,
    structured,
)

rag_app = typer.Typer(
    help="Index a company's documents, search them (keyword, vector, hybrid), re-embed them.",
    no_args_is_help=True,
)

CompanyArg = Annotated[str, typer.Argument(help="The company the collection belongs to.")]
CollectionOption = Annotated[
    str | None, typer.Option("--collection", help="The collection (default 'default').")
]


def register(app: typer.Typer) -> None:
    """Add the ``rag`` command group to ``app``."""
    app.add_typer(rag_app, name="rag")


def _aidev(params: dict[str, Any], *, as_user: str | None, yes: bool = False) -> Any:
    return call_given("aidev", params, as_user=as_user, company=params.get("company_id"), yes=yes)


def _read_documents(path: Path, as_user: str | None) -> list[Any]:
    """Documents from a JSON array or JSON lines file; unreadable ones are refused (audited)."""
    try:
        text = path.read_text(encoding="utf-8")
        stripped = text.lstrip()
        if stripped.startswith("["):
            value = json.loads(stripped)
        else:
            value = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        refuse_arguments("aidev", str(path), f"--documents {str(path)!r}: {e}", as_user=as_user)
        raise  # not reached: refuse_arguments ends the command
    if not isinstance(value, list):
        refuse_arguments("aidev", str(path), "--documents must hold a JSON array", as_user=as_user)
    return list(value)


@rag_app.command("index")
def index(
    company: CompanyArg,
    documents: Annotated[
        Path | None,
        typer.Option("--documents", help="JSON array or JSON lines of {id, text, metadata?}."),
    ] = None,
    path: Annotated[
        list[str] | None,
        typer.Option("--path", help="A workspace file to index (txt, md, html, csv); repeat."),
    ] = None,
    doc_id: Annotated[str | None, typer.Option("--id", help="Id of one document (--text).")] = None,
    text: Annotated[str | None, typer.Option("--text", help="Text of one document.")] = None,
    collection: CollectionOption = None,
    as_user: AsOption = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Chunk, embed and store documents; unchanged documents are skipped."""
    given: list[Any] | None = None
    if documents is not None:
        given = _read_documents(documents, as_user)
    if text is not None:
        given = [*(given or []), {"id": doc_id or "text-1", "text": text}]
    params = {
        "operation": "index_documents",
        "company_id": company,
        "documents": given,
        "paths": path or None,
        "collection": collection,
    }
    show(_aidev(params, as_user=as_user, yes=yes), as_json)


@rag_app.command("search")
def search(
    company: CompanyArg,
    query: Annotated[str, typer.Argument(help="What to search for.")],
    collection: CollectionOption = None,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Most hits (default 5).")] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="hybrid (default), vector or keyword.")
    ] = None,
    filters: Annotated[
        str | None, typer.Option("--filters", help='Metadata filters as JSON: {"lang": "en"}.')
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search a company's collection; print each hit's document id, score and snippet."""
    parsed: Any = None
    if filters is not None:
        try:
            parsed = json.loads(filters)
        except json.JSONDecodeError as e:
            refuse_arguments("aidev", filters, f"--filters is not JSON: {e}", as_user=as_user)
    params = {
        "operation": "search_similar",
        "company_id": company,
        "query": query,
        "collection": collection,
        "top_k": top_k,
        "mode": mode,
        "filters": parsed,
    }
    show(_aidev(params, as_user=as_user), as_json)


@rag_app.command("update")
def update(
    company: CompanyArg,
    collection: CollectionOption = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Embedding model (default MASTERAI_RAG__EMBEDDING_MODEL)."),
    ] = None,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Chunks per call (progress after each).")
    ] = 500,
    conversations: Annotated[
        bool,
        typer.Option(
            "--conversations", help="Then add the company's new conversations (scrubbed)."
        ),
    ] = False,
    as_user: AsOption = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Re-embed a collection with another embedding model, showing progress; resumable."""
    context = acting_context(as_user, company=company, approver=cli_approver(yes), tool="aidev")
    params = {
        "operation": "update_embeddings",
        "company_id": company,
        "collection": collection,
        "model": model,
        "max_chunks": batch,
        "add_conversations": conversations or None,
    }
    done = 0
    while True:
        result = call_given("aidev", params, as_user=as_user, yes=yes, context=context)
        data = structured(result)
        done += data["embedded"]
        if data["complete"] or not data["embedded"]:
            break
        if not as_json:
            console.print(f"re-embedded {done} chunks, {data['remaining']} remaining")
    if as_json:
        print_json({**data, "embedded": done})
    elif data["complete"]:
        console.print(
            f"{company}/{data['collection']} uses {data['model']} "
            f"({done} chunks re-embedded this run)"
        )
        if "conversations" in data:
            added = data["conversations"]
            console.print(
                f"{added['added']} new conversation(s) indexed, "
                f"{added['already_indexed']} already there"
            )
    else:
        show(result, as_json=False)

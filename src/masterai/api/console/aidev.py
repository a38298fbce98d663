"""The AI development pages: documents (RAG collections), datasets, fine-tunes, evaluations.

Every list is an ``aidev`` read operation (``list_collections``, ``search_similar``,
``list_datasets``, ``list_fine_tune_jobs``, ``list_model_evaluations``) called as the
logged-in user; indexing, preparing a dataset, starting, refreshing or cancelling a
fine-tune and evaluating a model are ``aidev`` operations posted from the Tools page's
generated forms (``POST /tools/aidev``), so each is permission-checked, approved where the
operation asks for it, and audited like any other call. A user who may use none of a page's
operations gets 404 for it and does not see it in the navigation.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from masterai.api.console.configs import companies_of
from masterai.api.console.core import Console, ConsoleUser, structured
from masterai.api.console.nav import NAV
from masterai.api.console.tools import action_panels
from masterai.services.aidev.finetune import JobStatus
from masterai.services.rag import SearchMode

TOOL = "aidev"
TOP_K = (3, 5, 10, 20)
MODES = tuple(m.value for m in SearchMode)
STATUSES = ("", *(s.value for s in JobStatus))

DOCUMENT_ACTIONS = (
    ("index_documents", "Index documents or workspace files"),
    ("update_embeddings", "Re-embed a collection, add new conversations"),
)
DATASET_ACTIONS = (("prepare_training_data", "Prepare a dataset from conversations"),)
FINE_TUNE_ACTIONS = (
    ("fine_tune_model", "Start a fine-tune"),
    ("refresh_fine_tune_job", "Ask the provider for a job's status"),
    ("cancel_fine_tune_job", "Cancel a job"),
)
EVALUATION_ACTIONS = (("evaluate_model", "Evaluate a model on a test set"),)


def _allowed(user: ConsoleUser, key: str) -> None:
    """404 unless the user may use the page ``key`` (its nav item's operations)."""
    item = next(i for i in NAV if i.key == key)
    if not item.visible(user.may):
        raise HTTPException(status_code=404, detail=f"No page {item.path} for you")


async def _company(
    console: Console, request: Request, user: ConsoleUser, given: str | None
) -> tuple[list[str], str | None]:
    companies = await companies_of(console, request, user)
    return companies, given or (companies[0] if companies else None)


def router(console: Console) -> APIRouter:
    """``/documents``, ``/datasets``, ``/fine-tunes`` and ``/evaluations``."""
    routes = APIRouter(include_in_schema=False)
    console.pages.update({"documents", "datasets", "fine_tunes", "evaluations"})
    _documents(console, routes)
    _training(console, routes)
    return routes


def _documents(console: Console, routes: APIRouter) -> None:
    @routes.get("/documents")
    async def documents(
        request: Request,
        company_id: str | None = None,
        collection: str = "",
        query: str = "",
        mode: str = "hybrid",
        top_k: int = 5,
    ) -> HTMLResponse:
        user = await console.user(request)
        _allowed(user, "documents")
        companies, company = await _company(console, request, user, company_id)
        listed = hits = None
        if company is not None:
            listed = await console.call(
                request, user, TOOL, {"operation": "list_collections", "company_id": company}
            )
            if query.strip():
                search: dict[str, Any] = {
                    "operation": "search_similar",
                    "company_id": company,
                    "query": query,
                    "mode": mode,
                    "top_k": top_k,
                }
                if collection:
                    search["collection"] = collection
                hits = await console.call(request, user, TOOL, search)
        return console.render(
            request,
            "aidev_documents.html",
            user,
            companies=companies,
            company=company,
            listed=listed,
            collections=structured(listed)["collections"] if listed and listed.ok else [],
            search={"collection": collection, "query": query, "mode": mode, "top_k": top_k},
            modes=MODES,
            top_ks=TOP_K,
            hits=hits,
            hit_data=structured(hits) if hits is not None and hits.ok else None,
            panels=action_panels(user, TOOL, DOCUMENT_ACTIONS, _prefill(company)),
        )


def _training(console: Console, routes: APIRouter) -> None:
    async def call(request: Request, user: ConsoleUser, **params: Any) -> Any:
        return await console.call(request, user, TOOL, params)

    @routes.get("/datasets")
    async def datasets(request: Request, company_id: str | None = None) -> HTMLResponse:
        user = await console.user(request)
        _allowed(user, "datasets")
        companies, company = await _company(console, request, user, company_id)
        listed = None
        if company is not None:
            listed = await call(request, user, operation="list_datasets", company_id=company)
        return console.render(
            request,
            "aidev_datasets.html",
            user,
            companies=companies,
            company=company,
            listed=listed,
            datasets=structured(listed)["datasets"] if listed and listed.ok else [],
            panels=action_panels(user, TOOL, DATASET_ACTIONS, _prefill(company)),
        )

    @routes.get("/fine-tunes")
    async def fine_tunes(
        request: Request, company_id: str | None = None, status: str = ""
    ) -> HTMLResponse:
        user = await console.user(request)
        _allowed(user, "fine_tunes")
        companies, company = await _company(console, request, user, company_id)
        params: dict[str, Any] = {"operation": "list_fine_tune_jobs"}
        if company is not None:
            params["company_id"] = company
        if status in STATUSES[1:]:
            params["status"] = status
        listed = await console.call(request, user, TOOL, params)
        return console.render(
            request,
            "aidev_fine_tunes.html",
            user,
            companies=companies,
            company=company,
            status=status,
            statuses=STATUSES,
            listed=listed,
            jobs=structured(listed)["jobs"] if listed.ok else [],
            may_refresh=user.may(TOOL, "refresh_fine_tune_job"),
            may_cancel=user.may(TOOL, "cancel_fine_tune_job"),
            panels=action_panels(user, TOOL, FINE_TUNE_ACTIONS),
        )

    @routes.get("/evaluations")
    async def evaluations(request: Request, test_set: str = "", model: str = "") -> HTMLResponse:
        user = await console.user(request)
        _allowed(user, "evaluations")
        params: dict[str, Any] = {"operation": "list_model_evaluations"}
        if test_set:
            params["test_set_name"] = test_set
        if model:
            params["model_id"] = model
        listed = await console.call(request, user, TOOL, params)
        return console.render(
            request,
            "aidev_evaluations.html",
            user,
            filters={"test_set": test_set, "model": model},
            listed=listed,
            groups=structured(listed)["evaluations"] if listed.ok else [],
            panels=action_panels(user, TOOL, EVALUATION_ACTIONS),
        )


def _prefill(company: str | None) -> dict[str, str] | None:
    return {"company_id": company} if company else None

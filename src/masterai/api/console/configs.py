"""The Configurations page: companies, the active version, history, diff, rollback, templates.

Reads are ``configuration`` calls (``get_configuration``, ``list_versions``,
``diff_versions``, ``list_templates``); rollback, applying and saving templates are the
tool's destructive operations, shown with their diff for approval first.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from masterai.api.console.approval import call_with_approval
from masterai.api.console.core import Console, ConsoleUser, structured
from masterai.registry import ToolResult
from masterai.security import ANY


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One side of one line of a side-by-side diff."""

    text: str
    kind: str
    """``same``, ``del`` (left only), ``add`` (right only) or ``""`` (blank filler)."""


def side_by_side(old: Any, new: Any) -> list[tuple[Cell, Cell]]:
    """Rows of a side-by-side comparison of two field values (text compared by line)."""
    left = old if isinstance(old, str) else _shown(old)
    right = new if isinstance(new, str) else _shown(new)
    a, b = left.splitlines() or [""], right.splitlines() or [""]
    rows: list[tuple[Cell, Cell]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows += [(Cell(text=x, kind="same"), Cell(text=x, kind="same")) for x in a[i1:i2]]
            continue
        olds, news = a[i1:i2], b[j1:j2]
        for k in range(max(len(olds), len(news))):
            rows.append(
                (
                    Cell(text=olds[k], kind="del") if k < len(olds) else Cell(text="", kind=""),
                    Cell(text=news[k], kind="add") if k < len(news) else Cell(text="", kind=""),
                )
            )
    return rows


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


async def companies_of(console: Console, request: Request, user: ConsoleUser) -> list[str]:
    """The companies the user can pick.

    Every company for those who may list them, else the companies their permissions name.
    """
    if user.may("admin", "list_companies"):
        result = await console.call(request, user, "admin", {"operation": "list_companies"})
        if result.ok:
            return [c["id"] for c in structured(result)]
    data = user.principal.permissions.data_access
    return sorted((set(data.read_companies) | set(data.write_companies)) - {ANY})


def change_params(company: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """The ``configuration`` call a change form asks for (rollback, templates)."""
    operation = form.get("operation")
    params: dict[str, Any] = {"operation": operation, "company_id": company}
    if operation == "rollback":
        try:
            params["version"] = int(str(form.get("version")))
        except ValueError:
            raise HTTPException(status_code=400, detail="version must be a number") from None
    elif operation in ("apply_template", "save_as_template"):
        params["template_name"] = str(form.get("template_name") or "").strip()
        if operation == "save_as_template" and form.get("description"):
            params["description"] = str(form.get("description"))
    else:
        raise HTTPException(status_code=400, detail=f"Unknown change {operation!r}")
    note = form.get("change_note")
    if isinstance(note, str) and note.strip() and operation != "save_as_template":
        params["change_note"] = note.strip()
    return params


def router(console: Console) -> APIRouter:
    """``/configurations`` and ``/configurations/{company}`` with diff and changes."""
    routes = APIRouter(include_in_schema=False)
    console.pages.add("configurations")

    async def call(
        request: Request, user: ConsoleUser, operation: str, **params: Any
    ) -> ToolResult:
        return await console.call(
            request, user, "configuration", {"operation": operation, **params}
        )

    @routes.get("/configurations")
    async def index(request: Request) -> HTMLResponse:
        user = await console.user(request)
        companies = await companies_of(console, request, user)
        templates = await call(request, user, "list_templates")
        return console.render(
            request,
            "configs.html",
            user,
            companies=companies,
            company=None,
            templates=structured(templates) if templates.ok else [],
            templates_error=None if templates.ok else templates.error,
        )

    @routes.get("/configurations/{company}")
    async def company(
        company: str,
        request: Request,
        from_version: int | None = None,
        to_version: int | None = None,
    ) -> HTMLResponse:
        user = await console.user(request)
        companies = await companies_of(console, request, user)
        versions = await call(request, user, "list_versions", company_id=company)
        if not versions.ok:
            return console.render(
                request,
                "configs.html",
                user,
                status_code=404 if versions.status == "invalid" else 403,
                companies=companies,
                company=company,
                versions=[],
                error=versions.error,
                templates=[],
                templates_error=None,
                diff=None,
            )
        history = structured(versions)
        templates = await call(request, user, "list_templates")
        diff = None
        if from_version is not None and to_version is not None:
            diff = await _diff(request, user, company, from_version, to_version)
        return console.render(
            request,
            "configs.html",
            user,
            companies=companies,
            company=company,
            versions=history,
            active=next((v for v in history if v["is_active"]), None),
            error=None,
            templates=structured(templates) if templates.ok else [],
            templates_error=None if templates.ok else templates.error,
            diff=diff,
        )

    async def _diff(
        request: Request, user: ConsoleUser, company: str, old: int, new: int
    ) -> dict[str, Any]:
        result = await call(
            request, user, "diff_versions", company_id=company, from_version=old, to_version=new
        )
        changes = structured(result).get("changes", []) if result.ok else []
        return {
            "from_version": old,
            "to_version": new,
            "result": result,
            "fields": [
                {"field": c["field"], "rows": side_by_side(c["old"], c["new"])} for c in changes
            ],
        }

    @routes.get("/configurations/{company}/diff")
    async def diff(
        company: str, request: Request, from_version: int, to_version: int
    ) -> HTMLResponse:
        user = await console.user(request)
        values = await _diff(request, user, company, from_version, to_version)
        return console.page(
            request,
            user,
            "page.html",
            "config_diff.html",
            title="Diff",
            company=company,
            diff=values,
        )

    @routes.post("/configurations/{company}/change")
    async def change(company: str, request: Request) -> HTMLResponse:
        """Rollback, apply a template or save one: previewed, approved, then applied."""
        user = await console.user(request)
        form = await console.form(request, user)
        params = change_params(company, form)
        outcome = await call_with_approval(console, request, user, "configuration", params)
        return console.page(
            request, user, "page.html", "outcome.html", title="Change", outcome=outcome
        )

    return routes

"""The Audit page: a searchable list of audit records, each record's detail, chain status.

``admin.audit_search`` finds records (their arguments and results are stored redacted) and
``admin.audit_verify`` reports whether the keyed chain holds; both are registry calls, so
reading the audit trail is audited too.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from masterai.api.console.core import Console, structured
from masterai.audit import STATUSES

LIMITS = (50, 100, 500, 1000)


def _detail(record: dict[str, Any]) -> dict[str, Any]:
    """A record with its stored result parsed back from JSON where it is JSON."""
    summary = record.get("result_summary")
    parsed: Any = summary
    if isinstance(summary, str):
        try:
            parsed = json.loads(summary)
        except ValueError:
            parsed = summary
    return {**record, "result": parsed}


def router(console: Console) -> APIRouter:
    """``/audit``."""
    routes = APIRouter(include_in_schema=False)
    console.pages.add("audit")

    @routes.get("/audit")
    async def audit(
        request: Request,
        tool: str = "",
        user_name: str = "",
        company: str = "",
        status: str = "",
        since: str = "",
        limit: int = 100,
        focus: int | None = None,
    ) -> HTMLResponse:
        user = await console.user(request)
        filters = {
            "tool_name": tool.strip(),
            "user": user_name.strip(),
            "company_id": company.strip(),
            "status": status.strip(),
            "since": since.strip(),
        }
        params: dict[str, Any] = {"operation": "audit_search", "limit": limit}
        params |= {k: v for k, v in filters.items() if v}
        found = await console.call(request, user, "admin", params)
        chain = await console.call(request, user, "admin", {"operation": "audit_verify"})
        records = [_detail(r) for r in reversed(structured(found))] if found.ok else []
        return console.render(
            request,
            "audit.html",
            user,
            found=found,
            records=records,
            chain=structured(chain) if chain.ok else None,
            chain_result=chain,
            filters={"tool": tool, "user_name": user_name, "company": company}
            | {
                "status": status,
                "since": since,
                "limit": limit,
            },
            statuses=STATUSES,
            limits=LIMITS,
            focus=focus,
        )

    return routes

"""The Users & companies page (super admins by default): roles, grants, tokens, companies.

Lists come from ``admin.list_users``, ``admin.list_companies`` and ``admin.show_user``; every
change is an ``admin`` operation posted from a form generated from its schema (the same
forms as the Tools page), so it is permission-checked and audited. An issued token or
login link is shown once, in the result.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from masterai.api.console.core import Console, structured
from masterai.api.console.tools import action_panels

ACTIONS = (
    ("add_user", "Add a user"),
    ("update_user", "Change a user's role, companies, grants or active state"),
    ("issue_token", "Issue an API token"),
    ("revoke_token", "Revoke an API token"),
    ("issue_login_link", "One-time console login link"),
    ("add_company", "Add a company"),
)


def router(console: Console) -> APIRouter:
    """``/people`` and ``/people/{name}``."""
    routes = APIRouter(include_in_schema=False)
    console.pages.add("people")

    @routes.get("/people")
    async def people(request: Request) -> HTMLResponse:
        user = await console.user(request)
        users = await console.call(request, user, "admin", {"operation": "list_users"})
        companies = await console.call(request, user, "admin", {"operation": "list_companies"})
        return console.render(
            request,
            "people.html",
            user,
            users=users,
            companies=companies,
            person=None,
            panels=action_panels(user, "admin", ACTIONS),
        )

    @routes.get("/people/{name}")
    async def person(name: str, request: Request) -> HTMLResponse:
        user = await console.user(request)
        users = await console.call(request, user, "admin", {"operation": "list_users"})
        companies = await console.call(request, user, "admin", {"operation": "list_companies"})
        shown = await console.call(request, user, "admin", {"operation": "show_user", "name": name})
        return console.render(
            request,
            "people.html",
            user,
            users=users,
            companies=companies,
            person=shown,
            person_data=structured(shown) if shown.ok else None,
            panels=action_panels(user, "admin", ACTIONS, {"name": name}),
        )

    return routes

"""What every page module needs: render a template for the signed-in actor, the 404
page, and sending a signed-out visitor to sign in and back to where they were."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.response import Redirect, Template

from studyhall.platform.auth import Actor


def render(template: str, actor: Actor | None, status_code: int = 200, **context: Any) -> Template:
    return Template(
        template_name=template, context={"actor": actor, **context}, status_code=status_code
    )


def not_found(actor: Actor | None, detail: str = "No such page") -> Template:
    return render("not_found.html", actor, status_code=404, detail=detail)


def sign_in_first(target: str) -> Redirect:
    """To the sign-in page, which comes back to ``target`` (a path on this site)."""
    return Redirect(f"/login?next={quote(target, safe='/')}")


def refuse(actor: Actor | None, target: str) -> Response[Any]:
    """Sign in first; a signed-in reader without access learns nothing, not even that
    the thing exists."""
    if actor is None:
        return sign_in_first(target)
    return not_found(actor)


def request_target(request: Request[Any, Any, Any]) -> str:
    """The path and query of the request, to come back to after signing in."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")

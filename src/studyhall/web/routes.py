"""Account pages: home, login, register, logout, account with password change.

Forms post back to the page; errors re-render the form with a message and the
status a script would expect (401, 409, 422, 429), so the browser flow and the
API share one set of rules in the identity service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from studyhall.identity import service
from studyhall.identity.models import User
from studyhall.identity.tasks import enqueue_welcome
from studyhall.platform.errors import DomainError
from studyhall.platform.http import (
    SESSION_COOKIE,
    DbSession,
    MaybeActor,
    Runtime,
    client_ip,
)
from studyhall.web.pages import render, sign_in_first


@dataclass
class LoginForm:
    email: str = ""
    password: str = ""
    next: str = "/account"


@dataclass
class RegisterForm:
    email: str = ""
    password: str = ""
    name: str = ""


@dataclass
class PasswordForm:
    current_password: str = ""
    new_password: str = ""


def _safe_next(target: str) -> str:
    """Only same-site paths: an open redirect would let a link send users elsewhere."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/account"


def _session_cookie(platform: Runtime, value: str, *, max_age: int) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        max_age=max_age,
        httponly=True,
        secure=platform.settings.cookie_secure,
        samesite="lax",
        path="/",
    )


async def _signed_in(
    db: DbSession, platform: Runtime, request: Request[Any, Any, Any], user: User, target: str
) -> Response[Any]:
    raw = await service.start_web_session(
        db, platform, user, user_agent=request.headers.get("user-agent", "")
    )
    ttl = platform.settings.web_session_ttl_seconds
    return Redirect(_safe_next(target), cookies=[_session_cookie(platform, raw, max_age=ttl)])


@get("/", name="home")
async def home(optional_actor: MaybeActor) -> Template:
    return render("home.html", optional_actor)


@get("/login", name="login")
async def login_page(optional_actor: MaybeActor, next: FromQuery[str] = "/account") -> Template:
    return render("login.html", optional_actor, next=_safe_next(next), email="")


@post("/login")
async def login_submit(
    data: URLEncodedBody[LoginForm],
    request: Request[Any, Any, Any],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    ip = client_ip(request, trust_proxy_headers=platform.settings.trust_proxy_headers)
    try:
        user = await service.login(
            db, platform, email=data.email, password=data.password, client_ip=ip
        )
    except DomainError as error:
        return render(
            "login.html",
            optional_actor,
            status_code=error.status,
            error=error.detail,
            email=data.email,
            next=_safe_next(data.next),
        )
    return await _signed_in(db, platform, request, user, data.next)


@get("/register", name="register")
async def register_page(optional_actor: MaybeActor) -> Template:
    return render("register.html", optional_actor, email="", name="")


@post("/register")
async def register_submit(
    data: URLEncodedBody[RegisterForm],
    request: Request[Any, Any, Any],
    db: DbSession,
    platform: Runtime,
) -> Response[Any]:
    ip = client_ip(request, trust_proxy_headers=platform.settings.trust_proxy_headers)
    try:
        user = await service.register(
            db, platform, email=data.email, password=data.password, name=data.name, client_ip=ip
        )
    except DomainError as error:
        return render(
            "register.html",
            None,
            status_code=error.status,
            error=error.detail,
            email=data.email,
            name=data.name,
        )
    await enqueue_welcome(db, platform, user)
    return await _signed_in(db, platform, request, user, "/account")


@post("/logout")
async def logout(request: Request[Any, Any, Any], db: DbSession, platform: Runtime) -> Redirect:
    if raw := request.cookies.get(SESSION_COOKIE):
        await service.end_web_session(db, platform, raw)
    return Redirect("/", cookies=[_session_cookie(platform, "", max_age=0)])


@get("/account", name="account")
async def account(db: DbSession, optional_actor: MaybeActor) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first("/account")
    return render("account.html", optional_actor, me=await service.me(db, optional_actor))


@post("/account/password")
async def account_password(
    data: URLEncodedBody[PasswordForm],
    request: Request[Any, Any, Any],
    db: DbSession,
    platform: Runtime,
    optional_actor: MaybeActor,
) -> Response[Any]:
    if optional_actor is None:
        return sign_in_first("/account")
    message: dict[str, Any] = {"notice": "Password changed. Other devices were signed out."}
    status = 200
    try:
        await service.change_password(
            db,
            platform,
            optional_actor,
            current_password=data.current_password,
            new_password=data.new_password,
            keep_session_token=request.cookies.get(SESSION_COOKIE),
        )
    except DomainError as error:
        message = {"error": error.detail}
        status = error.status
    me = await service.me(db, optional_actor)
    return render("account.html", optional_actor, status_code=status, me=me, **message)


ROUTES = [
    home,
    login_page,
    login_submit,
    register_page,
    register_submit,
    logout,
    account,
    account_password,
]

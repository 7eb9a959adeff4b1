"""The ``studyhall`` command as an operator uses it."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner
from websockets.sync.client import connect

from studyhall.cli import main
from tests.conftest import TEST_SECRET
from tests.processes import free_port, processes, studyhall, wait_until_healthy


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "STUDYHALL_DATA_DIR": str(tmp_path),
        "STUDYHALL_SECRET_KEY": TEST_SECRET,
        "STUDYHALL_PASSWORD_HASH_PROFILE": "fast",
    }


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        path = (*prefix, name)
        found += _commands(command, path) if isinstance(command, click.Group) else [path]
    return found


@pytest.mark.parametrize("command", _commands(main), ids=lambda path: " ".join(path) or "studyhall")
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_contract_commands_exist() -> None:
    commands = {" ".join(path) for path in _commands(main)}
    assert {"serve", "worker", "migrate", "user create", "user list"} <= commands
    serve_help = CliRunner().invoke(main, ["serve", "--help"]).output
    for option in ("--host", "--port", "--workers", "--demo"):
        assert option in serve_help


def test_several_workers_are_refused_on_the_embedded_deployment(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["serve", "--workers", "2"], env=env)
    assert result.exit_code == 2
    assert "embedded deployment (SQLite) runs as one process" in result.output


def test_several_workers_need_redis(env: dict[str, str]) -> None:
    scaled = {**env, "STUDYHALL_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    result = CliRunner().invoke(main, ["serve", "--workers", "3"], env=scaled)
    assert result.exit_code == 2
    assert "STUDYHALL_REDIS_URL" in result.output


def test_user_create_and_list(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    created = runner.invoke(
        main,
        ["user", "create", "Boss@Example.org", "--password", "long enough", "--role", "admin"],
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert "Created admin boss@example.org" in created.output
    runner.invoke(
        main,
        [
            "user",
            "create",
            "t@example.org",
            "--password",
            "long enough",
            "--role",
            "teacher",
            "--name",
            "Tea Cher",
        ],
        env=env,
    )
    listing = runner.invoke(main, ["user", "list"], env=env)
    assert re.search(r"admin\s+boss@example.org\s+Boss", listing.output)
    assert re.search(r"teacher\s+t@example.org\s+Tea Cher", listing.output)
    only_teachers = runner.invoke(main, ["user", "list", "--role", "teacher"], env=env)
    assert "boss@example.org" not in only_teachers.output


def test_user_create_reports_rule_violations(env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(main, ["migrate"], env=env)
    weak = runner.invoke(
        main,
        ["user", "create", "a@example.org", "--password", "short", "--role", "student"],
        env=env,
    )
    assert weak.exit_code == 1
    assert "at least 8 characters" in weak.output
    args = ["user", "create", "a@example.org", "--password", "long enough", "--role", "student"]
    assert runner.invoke(main, args, env=env).exit_code == 0
    again = runner.invoke(main, args, env=env)
    assert again.exit_code == 1
    assert "already registered" in again.output
    bad_role = runner.invoke(
        main, ["user", "create", "b@example.org", "--password", "x" * 10, "--role", "god"], env=env
    )
    assert bad_role.exit_code == 2


def test_bad_settings_are_reported_plainly(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["migrate"], env={**env, "STUDYHALL_PORT": "eighty"})
    assert result.exit_code == 1
    assert "STUDYHALL_PORT='eighty' is not a valid int" in result.output


def test_secret_key_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"STUDYHALL_DATA_DIR": str(tmp_path), "STUDYHALL_PASSWORD_HASH_PROFILE": "fast"}
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    key_file = tmp_path / "secret_key"
    first = key_file.read_text()
    assert len(first) >= 32
    assert key_file.stat().st_mode & 0o777 == 0o600
    runner.invoke(main, ["migrate"], env=env)
    assert key_file.read_text() == first


def test_serve_demo_migrates_seeds_and_prints_the_logins(
    env: dict[str, str], tmp_path: Path
) -> None:
    """What `make run` does: a fresh data dir becomes a running platform with demo people."""
    port = free_port()
    log = tmp_path / "serve.log"
    with processes(env) as group:
        server = group.start(
            studyhall("serve", "--demo", "--host", "127.0.0.1", "--port", str(port)), log
        )
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, server, log)
        output = log.read_text()
        assert f"serving on {url}" in output
        logins = re.findall(r"(admin|teacher|student)\s+(\S+@\S+)\s+password: (\S+)", output)
        assert [role for role, _, _ in logins] == [
            "admin",
            "teacher",
            "student",
            "student",
            "student",
        ]
        for role, email, password in logins:
            token = httpx.post(
                f"{url}/api/v1/auth/token", json={"email": email, "password": password}
            )
            assert token.status_code == 200, email
            me = httpx.get(
                f"{url}/api/v1/me",
                headers={"Authorization": f"Bearer {token.json()['accessToken']}"},
            ).json()
            assert me["role"] == role
            if role == "student":
                assert [cohort["name"] for cohort in me["cohorts"]] == ["Batch 2026-A"]
        _assert_frames_go_uncompressed(port)


def _assert_frames_go_uncompressed(port: int) -> None:
    """Live frames are encoded once per node and written as they are to every socket:
    the server declines permessage-deflate, which would compress them per socket."""
    unknown = uuid.UUID(int=1)
    url = f"ws://127.0.0.1:{port}/ws?quizId={unknown}&participantId={unknown}"
    with connect(url, open_timeout=10) as socket:  # the client offers deflate by default
        assert socket.response is not None
        assert "sec-websocket-extensions" not in socket.response.headers
        refused = json.loads(socket.recv(timeout=10))
    assert refused["payload"]["reason"] == "game_not_found"


def test_commands_before_migrate_explain_themselves(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        main,
        ["user", "create", "a@example.org", "--password", "long enough", "--role", "admin"],
        env=env,
    )
    assert result.exit_code == 1
    assert "studyhall migrate" in result.output
    assert "argon2" not in result.output, "no SQL parameters (password hashes) in messages"


def test_import_a_gift_file_into_a_bank(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["migrate"], env=env)
    runner.invoke(
        main,
        ["user", "create", "t@example.org", "--password", "long enough", "--role", "teacher"],
        env=env,
    )
    bank_id = asyncio.run(_create_bank(env, "t@example.org"))
    gift = Path(__file__).parent / "questions" / "fixtures" / "every_kind.gift"
    result = runner.invoke(main, ["import", str(gift), "--bank", str(bank_id)], env=env)
    assert result.exit_code == 0, result.output
    assert "Imported 8 questions from every_kind.gift (gift)." in result.output
    assert "line 26:" in result.output
    unknown = runner.invoke(main, ["import", str(gift), "--bank", str(uuid.uuid4())], env=env)
    assert unknown.exit_code == 1
    assert "No bank" in unknown.output


async def _create_bank(env: dict[str, str], owner_email: str) -> uuid.UUID:
    from studyhall.config import load_settings
    from studyhall.identity import repository, service
    from studyhall.platform.runtime import Platform
    from studyhall.questions import service as questions

    platform = await Platform.start(load_settings(env))
    try:
        async with platform.sessions() as session, session.begin():
            owner = await repository.user_by_email(session, owner_email)
            assert owner is not None
            bank = await questions.create_bank(
                session, platform, service.actor_for(owner, "bearer"), name="CLI bank"
            )
            return bank.id
    finally:
        await platform.close()

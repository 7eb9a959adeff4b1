"""Real studyhall processes for tests that cross process boundaries (cluster, CLI, browser)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def studyhall(*args: str) -> list[str]:
    return [sys.executable, "-m", "studyhall", *args]


class Processes:
    """Starts processes and guarantees they are all killed at the end."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            command,
            env=self.env,
            cwd=REPO_ROOT,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.running.append(process)
        return process

    def serve(self, log: Path, *options: str) -> str:
        """Start an app server and return its base URL once it answers /healthz."""
        port = free_port()
        process = self.start(
            studyhall("serve", "--host", "127.0.0.1", "--port", str(port), *options), log
        )
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process, log)
        return url

    @staticmethod
    def kill_9(process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server at {url} never became healthy:\n{log.read_text()[-3000:]}")


@contextmanager
def processes(env: dict[str, str]) -> Iterator[Processes]:
    group = Processes({**os.environ, **env})
    try:
        yield group
    finally:
        group.stop_all()

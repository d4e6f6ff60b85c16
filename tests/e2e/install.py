"""Install the pinned agent CLIs with ``npm ci`` into ``tests/e2e/node_modules``.

The versions are pinned in ``package.json`` and locked, with integrity hashes, in
``package-lock.json``. An install is skipped when ``node_modules`` was made from the same
lock file and every CLI still reports its pinned version. Without Node.js, npm or the
registry the suite cannot run: :class:`InstallError` says what to install.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs

__all__ = ["CLIS", "AgentCLIs", "InstallError", "install_clis"]

HERE = Path(__file__).parent
STAMP = ".cliproxy-e2e-lock.sha256"  # in node_modules: the digest of the lock it came from
MIN_NODE = 20  # @google/gemini-cli 0.61 declares engines.node >= 20
NPM_TIMEOUT = 900

# client -> (npm package, executable in node_modules/.bin)
CLIS: Mapping[str, tuple[str, str]] = {
    "claude-code": ("@anthropic-ai/claude-code", "claude"),
    "codex": ("@openai/codex", "codex"),
    "gemini-cli": ("@google/gemini-cli", "gemini"),
}


class InstallError(RuntimeError):
    """The CLIs could not be installed; the message says what to install or check."""


@attrs.frozen
class AgentCLIs:
    """The installed CLIs: ``paths["codex"]`` is an executable, ``versions`` the pins."""

    bin_dir: Path
    paths: Mapping[str, Path]
    versions: Mapping[str, str]
    installed_now: bool


def _require_node(path: str | None) -> tuple[str, str]:
    node, npm = shutil.which("node", path=path), shutil.which("npm", path=path)
    if node is None or npm is None:
        missing = [name for name, found in (("node", node), ("npm", npm)) if found is None]
        raise InstallError(
            f"the real-client suite (tests/e2e) needs Node.js {MIN_NODE}+ with npm, but "
            f"{' and '.join(missing)} {'are' if len(missing) > 1 else 'is'} not on PATH; "
            "install them (e.g. `apt-get install nodejs npm`, or from https://nodejs.org) and run the tests again"
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    match = re.match(r"v(\d+)", version)
    if match is None or int(match[1]) < MIN_NODE:
        raise InstallError(
            f"the real-client suite (tests/e2e) needs Node.js {MIN_NODE}+ ({node} is {version or 'of unknown version'}); "
            "install a newer Node.js and run the tests again"
        )
    return node, npm


def _reported_version(executable: Path) -> str:
    """``--version`` of a CLI, run in a throwaway home (Gemini CLI writes to ~/.gemini even
    then) with no way off loopback."""
    with tempfile.TemporaryDirectory(prefix="cliproxy-e2e-version-") as home:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "NO_PROXY": "127.0.0.1,localhost"}
        env |= {name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
        try:
            done = subprocess.run(
                [str(executable), "--version"],
                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, env=env, cwd=home,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"<{exc}>"
    return (done.stdout + done.stderr).strip()


def _version_problems(paths: Mapping[str, Path], pins: Mapping[str, str]) -> list[str]:
    """What is wrong with the installed CLIs (nothing when each reports its pinned version)."""
    present = {client: path for client, path in paths.items() if path.exists()}
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        reported = dict(zip(present, pool.map(_reported_version, present.values()), strict=True))
    problems = [f"{path} is missing" for client, path in paths.items() if client not in present]
    problems += [
        f"{paths[client].name} --version says {said!r}, not {pins[client]}"
        for client, said in reported.items()
        if pins[client] not in said
    ]
    return problems


@contextlib.contextmanager
def _install_lock(root: Path) -> Iterator[None]:
    """One install at a time, also across pytest processes sharing the checkout."""
    with (root / ".npm-install.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _npm(npm: str, root: Path, env: Mapping[str, str], *args: str) -> None:
    command = f"`npm {' '.join(args)}` in {root}"
    try:
        done = subprocess.run(
            [npm, *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise InstallError(
            f"{command} did not finish within {NPM_TIMEOUT}s; the real-client suite installs the pinned CLIs "
            "from the npm registry: is it (`npm config get registry`) reachable from this machine?"
        ) from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise InstallError(
            f"{command} failed (exit {done.returncode}); the real-client suite installs the pinned CLIs from "
            f"package-lock.json and needs the npm registry (`npm config get registry`) for that:\n{tail}"
        )


def install_clis(root: Path = HERE, env: Mapping[str, str] | None = None) -> AgentCLIs:
    """Install (or reuse) the CLIs locked in ``root``; raise :class:`InstallError` when
    that is impossible. ``env`` is the environment for node and npm (default: ours)."""
    env = dict(os.environ if env is None else env)
    node, npm = _require_node(env.get("PATH"))
    package = root / "package.json"
    lock = root / "package-lock.json"
    dependencies = json.loads(package.read_text())["dependencies"]
    pins = {client: dependencies[name] for client, (name, _) in CLIS.items()}
    bin_dir = root / "node_modules" / ".bin"
    paths = {client: bin_dir / executable for client, (_, executable) in CLIS.items()}
    stamp = root / "node_modules" / STAMP
    digest = hashlib.sha256(package.read_bytes() + lock.read_bytes()).hexdigest()
    with _install_lock(root):
        if stamp.exists() and stamp.read_text() == digest and not _version_problems(paths, pins):
            return AgentCLIs(bin_dir, paths, pins, installed_now=False)
        stamp.unlink(missing_ok=True)
        # --ignore-scripts: no package runs code at install time; Claude Code's own
        # postinstall (it puts the native binary for this platform in place) runs below.
        _npm(npm, root, env, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
        postinstall = root / "node_modules" / "@anthropic-ai" / "claude-code" / "install.cjs"
        done = subprocess.run([node, str(postinstall)], cwd=root, env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise InstallError(
                f"Claude Code's installer ({postinstall}) failed: {(done.stderr or done.stdout)[-2000:]}"
            )
        problems = _version_problems(paths, pins)
        if problems:
            raise InstallError("the CLIs installed from package-lock.json do not run: " + "; ".join(problems))
        stamp.write_text(digest)
        return AgentCLIs(bin_dir, paths, pins, installed_now=True)

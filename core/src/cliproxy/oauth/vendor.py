"""Importing a sign-in a vendor's own CLI stored (Claude Code, Gemini CLI, the Kiro IDE...).

A :class:`VendorFile` names the vendor, the command that creates the file, and where the
file lives on each OS. :meth:`VendorFile.read` reads the file the user named, or the
first default that exists, and every failure -- missing, unreadable, not JSON, expired --
says which vendor command makes a good one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from cliproxy.errors import ErrorKind, GatewayError

__all__ = ["VendorFile", "VendorPath", "add_import_argument"]


@attrs.frozen
class VendorPath:
    """One default location of a vendor file.

    Attributes:
        relative: The path below its base directory (``.claude/.credentials.json``).
        env: Take the base directory from this environment variable (skipped when it is
            unset); None: the user's home directory.
        platforms: ``sys.platform`` prefixes it applies to (``linux``, ``darwin``,
            ``win32``); empty: every OS.
    """

    relative: str
    env: str | None = None
    platforms: tuple[str, ...] = ()

    def resolve(self, platform: str, environ: Mapping[str, str], home: Path) -> Path | None:
        if self.platforms and not platform.startswith(self.platforms):
            return None
        if self.env is None:
            return home / self.relative
        base = environ.get(self.env)
        return Path(base).expanduser() / self.relative if base else None

    def describe(self) -> str:
        base = f"${self.env}" if self.env else "~"
        where = f" ({', '.join(self.platforms)})" if self.platforms else ""
        return f"{base}/{self.relative}{where}"


@attrs.frozen
class VendorFile:
    """A vendor CLI's stored sign-in.

    Attributes:
        vendor: Its name (``Claude Code``).
        create: What the user runs to create or renew it (``run `claude` and sign in
            with /login``).
        paths: Default locations, probed in order.
        provider: The cliproxy provider it imports into, for errors.
    """

    vendor: str
    create: str
    paths: tuple[VendorPath, ...]
    provider: str | None = None

    def candidates(
        self, *, platform: str | None = None, environ: Mapping[str, str] | None = None, home: Path | None = None
    ) -> list[Path]:
        """The default locations on this OS, most specific first."""
        platform = platform or sys.platform
        environ = os.environ if environ is None else environ
        home = home or Path.home()
        found = (spec.resolve(platform, environ, home) for spec in self.paths)
        return list(dict.fromkeys(path for path in found if path is not None))

    def read(
        self,
        path: str | Path | None = None,
        *,
        platform: str | None = None,
        environ: Mapping[str, str] | None = None,
        home: Path | None = None,
    ) -> tuple[Path, dict[str, Any]]:
        """``(path, parsed JSON object)`` of the file at ``path``, or of the first default
        location that exists."""
        if path:
            chosen = Path(path).expanduser()
            if not chosen.is_file():
                raise self._error(f"{chosen} does not exist; {self.create}")
        else:
            looked = self.candidates(platform=platform, environ=environ, home=home)
            existing = [p for p in looked if p.is_file()]
            if not existing:
                where = ", ".join(str(p) for p in looked) or "no default location on this OS"
                raise self._error(
                    f"no {self.vendor} sign-in found (looked in {where}); {self.create}, or pass the file: --import PATH"
                )
            chosen = existing[0]
        try:
            data = json.loads(chosen.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise self._error(f"cannot read {chosen}: {exc.strerror if isinstance(exc, OSError) else exc}") from None
        except ValueError:
            raise self.malformed(chosen, "it is not JSON") from None
        if not isinstance(data, dict):
            raise self.malformed(chosen, "it is not a JSON object")
        return chosen, data

    def malformed(self, path: Path, reason: str) -> GatewayError:
        """The error for a file that is not what the vendor writes."""
        return self._error(f"{path} is not a {self.vendor} sign-in ({reason}); {self.create}, then import again")

    def expired(self, path: Path) -> GatewayError:
        """The error for a sign-in that can no longer be renewed."""
        return self._error(
            f"the {self.vendor} sign-in in {path} has expired and cannot be renewed; {self.create}, then import again"
        )

    def _error(self, message: str) -> GatewayError:
        return GatewayError(status=400, kind=ErrorKind.INVALID_REQUEST, message=message, provider=self.provider)


class _TakesArguments(Protocol):
    """An argument parser, or a group of one (``add_mutually_exclusive_group()``)."""

    def add_argument(self, *names: str, **options: Any) -> Any: ...


def add_import_argument(parser: _TakesArguments, vendor: VendorFile, *, dest: str = "import_path") -> None:
    """Add ``--import [PATH]`` to a login flow's parser (or a mutually exclusive group):
    ``args.<dest>`` is None without it, ``""`` for the default locations, else the path."""
    defaults = "; ".join(spec.describe() for spec in vendor.paths)
    parser.add_argument(
        "--import",
        dest=dest,
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help=f"copy {vendor.vendor}'s stored sign-in instead of signing in (default: {defaults})",
    )

"""The package's version, and the name the gateway gives itself upstream."""

from __future__ import annotations

__all__ = ["USER_AGENT", "__version__"]

__version__ = "0.1.0"

USER_AGENT = f"cliproxy/{__version__}"
"""The ``User-Agent`` of requests cliproxy sends as itself. A provider whose upstream
expects a vendor's own client (Gemini CLI, the Kiro IDE) sends that client's instead."""

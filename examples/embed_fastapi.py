"""Mount the gateway inside a FastAPI app (the same pattern as with Starlette).

Clients use base URL http://host:port/llm/v1. Run with: hypercorn examples.embed_fastapi:app
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from cliproxy import create_app
from fastapi import FastAPI

gateway = create_app(Path(__file__).with_name("config.yaml"))


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with gateway.router.lifespan_context(gateway):
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/")
async def hello() -> dict[str, str]:
    return {"app": "my app", "llm": "/llm/v1/chat/completions"}


app.mount("/llm", gateway)

"""Mount the gateway inside an existing Starlette app.

The gateway's lifespan (its HTTP session, state store and provider start-up) must run
inside the host's lifespan. Run with: uvicorn/hypercorn examples.embed_starlette:app
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from cliproxy import create_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

gateway = create_app(Path(__file__).with_name("config.yaml"))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with gateway.router.lifespan_context(gateway):
        yield


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"app": "my app", "llm": "/llm/v1/chat/completions"})


app = Starlette(routes=[Route("/", hello), Mount("/llm", app=gateway)], lifespan=lifespan)

"""The embedding examples: the gateway mounted inside Starlette and FastAPI apps."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from cliproxy.testing import asgi_client

EXAMPLES = Path(__file__).parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["embed_starlette", "embed_fastapi"])
async def test_mounted_gateway_serves_under_its_prefix(name):
    module = load(name)
    async with asgi_client(module.app) as client:
        home = await client.get("/")
        reply = await client.post(
            "/llm/v1/chat/completions",
            headers={"authorization": "Bearer sk-demo"},
            json={"model": "echo-1", "messages": [{"role": "user", "content": "mounted"}]},
        )
        models = await client.get("/llm/v1/models", headers={"authorization": "Bearer sk-demo"})
    assert home.json()["app"] == "my app"
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == "mounted"
    assert "echo-1" in [m["id"] for m in models.json()["data"]]

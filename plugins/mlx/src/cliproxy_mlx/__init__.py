"""cliproxy provider plugin for local OpenAI-compatible servers.

mlx-openai-server, vllm-mlx, vLLM, llama.cpp's llama-server and Ollama's ``/v1`` all
speak OpenAI Chat Completions; this plugin adds what running them locally needs::

    mlx:
      - name: "studio"
        base-url: "http://127.0.0.1:8000/v1"   # the default
        # prefix: "mlx"  (the default): clients ask for mlx/<model-id>
        timeout: 900                          # seconds to wait for each read, first token included

Models are discovered from ``GET /models`` (at start-up, every ``models-refresh-interval``
seconds, and when a client asks for one the server did not list); a server that does not
answer rests as unhealthy and is asked again every ``retry-interval`` seconds, never
holding up start-up. Reasoning in ``reasoning_content``/``reasoning`` or as a leading
``<think>...</think>`` becomes IR reasoning; missing usage is estimated and marked so;
models that reject tools get a clear 400. Nothing MLX-specific is imported: the plugin
talks HTTP only, and installs anywhere. See README.md.
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy import hookimpl

from cliproxy_mlx.provider import DEFAULT_BASE_URL, MLXProvider, MLXSettings

__all__ = ["DEFAULT_BASE_URL", "MLXProvider", "MLXSettings"]


@hookimpl
def register_providers(register: Callable[[object], None]) -> None:
    register(MLXProvider())

"""One version, from the distribution, in the package, the index page and the User-Agent."""

from __future__ import annotations

from importlib.metadata import version

import cliproxy
from cliproxy.testing import asgi_client, gateway_app


def test_the_version_is_the_distributions():
    assert cliproxy.__version__ == version("cliproxy")


def test_the_user_agent_names_cliproxy_and_its_version():
    assert f"cliproxy/{cliproxy.__version__}" == cliproxy.USER_AGENT


async def test_the_index_page_shows_the_version():
    async with asgi_client(gateway_app({})) as client:
        page = await client.get("/")
    assert page.json()["version"] == cliproxy.__version__

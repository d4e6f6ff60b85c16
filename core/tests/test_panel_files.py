"""The web panel's files: every module the page loads is shipped, they stay small, and
the built wheel carries them (no CDN, no build step at install time)."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from cliproxy.panel import panel_files

CORE = Path(__file__).parents[1]


def test_every_file_the_page_loads_is_shipped_and_the_panel_is_small():
    files = panel_files()
    assert "index.html" in files and "app.css" in files and "js/app.js" in files
    html = files["index.html"].decode()
    for ref in re.findall(r'(?:src|href)="([^"#:]+)"', html):
        assert ref in files, f"index.html loads {ref}, which the panel does not ship"
    for name, data in files.items():
        if name.endswith(".js"):
            for ref in re.findall(r'from "\./([^"]+)"', data.decode()):
                assert f"js/{ref}" in files, f"{name} imports {ref}, which the panel does not ship"
            outside = set(re.findall(r"https?://[^\s\"'`]+", data.decode())) - {"http://www.w3.org/2000/svg"}
            assert not outside, f"{name} names another site: {outside}"
    assert sum(len(data) for data in files.values()) < 300 * 1024


def test_the_wheel_carries_the_panel(tmp_path):
    uv = shutil.which("uv")
    assert uv, "building the wheel needs uv (pip install uv)"
    subprocess.run([uv, "build", "--wheel", str(CORE), "-o", str(tmp_path)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("cliproxy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"cliproxy/panel/static/{name}" for name in panel_files()} <= names

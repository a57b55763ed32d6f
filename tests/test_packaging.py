"""The wheel must carry every package, including the app installed as prefdata_app."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_prefdata_package_is_listed() -> None:
    listed = set(_setuptools()["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "prefdata").rglob("__init__.py")
    }
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_app_folder_is_installed_as_prefdata_app() -> None:
    setuptools = _setuptools()
    assert setuptools["package-dir"]["prefdata_app"] == "app"
    assert "prefdata_app" in setuptools["packages"]
    assert (REPO / "app" / "__init__.py").is_file()
    assert (REPO / "app" / "streamlit_app.py").is_file()

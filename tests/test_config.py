"""Settings are validated where they are made, with messages that name key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from prefdata.config import FilterConfig, ReadOptions, build_configs, load_config_file
from prefdata.errors import ConfigError


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_chosen_chars": -5}, "min_chosen_chars must be an integer >= 0, got -5"),
        ({"max_similarity": 1.5}, "max_similarity must be between 0 and 1, got 1.5"),
        ({"similarity": "cosine"}, "similarity must be one of ['indel', 'difflib'], got 'cosine'"),
        ({"disable": ["nope"]}, "disable names unknown checks ['nope']"),
        ({"workers": -1}, "workers must be 0 (automatic) or >= 1, got -1"),
    ],
)
def test_bad_values_name_the_key(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        FilterConfig(**kwargs)
    assert message in str(exc.value)


def test_read_options_validate() -> None:
    with pytest.raises(ConfigError, match="format must be one of"):
        ReadOptions(layout="xml")  # type: ignore[arg-type]


def test_yaml_and_toml_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("max_similarity: 0.8\nformat: hh\n")
    (tmp_path / "a.toml").write_text('max_similarity = 0.8\nformat = "hh"\n')
    for name in ("a.yaml", "a.toml"):
        config, options = build_configs(load_config_file(tmp_path / name))
        assert config.max_similarity == 0.8 and options.layout == "hh"


def test_unknown_keys_list_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown setting\(s\) \['max_sim'\]; valid: .*max_similarity"
    ):
        build_configs({"max_sim": 0.5})
    (tmp_path / "bad.yaml").write_text("- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config_file(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="config file not found"):
        load_config_file(tmp_path / "none.yaml")

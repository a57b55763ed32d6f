"""Typer options generated from the settings dataclasses' field metadata.

``FilterConfig`` and ``ReadOptions`` declare each setting once (help, bounds, choices);
``settings_options`` turns their fields into keyword options of a command, so filter,
validate and inspect write only their own flags. Every generated option defaults to
None ("not given"), which lets a config file's value stand unless a flag overrides it.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from prefdata.config import (
    FilterConfig,
    ReadOptions,
    build_configs,
    field_kind,
    load_config_file,
)

CONFIG_PARAM = "config"


def _option(f: dataclasses.Field[Any]) -> tuple[Any, Any]:
    """The (annotation, typer.Option) of one settings field."""
    meta = f.metadata
    kind = field_kind(f)
    cli_type = meta["cli_type"] or (str if kind is list else kind)
    annotation = list[cli_type] if kind is list else cli_type  # type: ignore[valid-type]
    flag = meta["flag"]
    if flag is None and kind is bool:
        dashed = f.name.replace("_", "-")
        flag = f"--{dashed}/--no-{dashed}"
    names = (flag,) if flag else ()
    return annotation | None, typer.Option(None, *names, help=meta["help"])


def settings_fields(*classes: type) -> list[dataclasses.Field[Any]]:
    return [f for cls in classes for f in dataclasses.fields(cls) if "help" in f.metadata]


def settings_options(
    *classes: type, config_file: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add one option per field of ``classes`` (and ``--config``) to a command.

    The command takes its own parameters plus ``**settings``; it receives every
    generated option there, None where not given, to pass to ``configs_from``.
    """

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        own = [
            p
            for p in inspect.signature(func, eval_str=True).parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        generated = []
        if config_file:
            generated.append(
                inspect.Parameter(
                    CONFIG_PARAM,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=Path | None,
                    default=typer.Option(
                        None,
                        "--config",
                        "-c",
                        help="YAML or TOML file of settings (keys: "
                        "the option names with underscores). Flags override it.",
                    ),
                )
            )
        for f in settings_fields(*classes):
            annotation, option = _option(f)
            generated.append(
                inspect.Parameter(
                    f.name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=option
                )
            )
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            return func(**kwargs)

        params = own + generated
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return wrap


def configs_from(settings: dict[str, Any]) -> tuple[FilterConfig, ReadOptions]:
    """Settings from ``--config``'s file, overridden by the generated flags given."""
    given = dict(settings)
    config = given.pop(CONFIG_PARAM, None)
    file_settings = load_config_file(config) if config else {}
    flags: dict[str, Any] = {}
    for name, value in given.items():
        if isinstance(value, list):  # repeatable flags: empty means not given
            value = [str(v) if isinstance(v, Path) else v for v in value] or None
        elif isinstance(value, Path):  # the config holds text
            value = str(value)
        flags[name] = value
    return build_configs(file_settings, **flags)

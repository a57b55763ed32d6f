"""`prefdata filter`, `validate` and `inspect`: curation from the command line."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from prefdata.cli.output import EXIT_EMPTY, EXIT_GATE, console, err_console, errors_to_exit
from prefdata.cli.settings_options import configs_from, settings_options
from prefdata.config import FilterConfig, ReadOptions
from prefdata.inspection import inspect_input
from prefdata.pipeline import Report, filter_pairs, validate_pairs
from prefdata.results import CARD, HTML, REPORT, layout_of

INPUTS = typer.Argument(
    ...,
    exists=False,
    help="Input files or folders: JSONL (.gz), JSON array, CSV, Parquet, "
    "or a datasets save_to_disk folder. The layout (TRL, HH-RLHF, ShareGPT) is detected.",
)

# Where the checks run: filter and validate (not settings of the checks, so no fields).
_ENGINE_OPTIONS: dict[str, Any] = {
    "engine": typer.Option(
        "local",
        help="local (this machine's threads) or ray (a Ray cluster; filter writes OUT/kept/ "
        "and OUT/dropped/ folders of Parquet parts). Ray needs pip install 'prefdata[ray]'.",
    ),
    "ray_address": typer.Option(
        None,
        help="With --engine ray: the cluster to join, e.g. ray://head:10001 or auto. "
        "Default: start a local Ray instance.",
    ),
}

# Pre-flight (what the trainer will really train on, as `prefdata preflight`), for filter
# and validate; its own tokenizer flag, since --tokenizer also turns on the token checks.
_PREFLIGHT_OPTIONS: dict[str, Any] = {
    "preflight_tokenizer": typer.Option(
        None,
        "--preflight-tokenizer",
        help="Local tokenizer folder: also run the trainer's pre-flight (as `prefdata "
        "preflight`): filter plans the kept pairs and writes OUT/preflight.parquet and "
        "OUT/preflight.json; validate plans the input as the trainer reads it.",
    ),
    "preflight_trainer": typer.Option(
        "trl",
        "--preflight-trainer",
        help="Trainer the pre-flight models: trl (1.16) or llamafactory (0.9.5).",
    ),
    "preflight_max_length": typer.Option(
        None,
        "--preflight-max-length",
        help="The pre-flight's TRL max_length or LLaMA-Factory cutoff_len (default: "
        "--max-length when given, else the trainer's own, 1024 and 2048).",
    ),
    "preflight_truncation_mode": typer.Option(
        "keep_start",
        "--preflight-truncation-mode",
        help="The pre-flight's TRL truncation_mode: keep_start or keep_end.",
    ),
    "preflight_template": typer.Option(
        None,
        "--preflight-template",
        help="The pre-flight's LLaMA-Factory named template (llama3, qwen), as `prefdata "
        "preflight --template`; default: parsed from the tokenizer's chat template.",
    ),
    "preflight_fail_on": typer.Option(
        "",
        "--preflight-fail-on",
        help="Comma-separated pre-flight reason codes: exit 1 when any pair has one (a CI gate).",
    ),
}
_PREFLIGHT_TYPES: dict[str, Any] = {
    "preflight_tokenizer": Path | None,
    "preflight_trainer": str,
    "preflight_max_length": int | None,
    "preflight_truncation_mode": str,
    "preflight_template": str | None,
    "preflight_fail_on": str,
}


def preflight_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the ``--preflight-*`` options to a command, which receives them as one dict,
    its ``preflight_flags`` parameter (the options are the same for filter and validate)."""
    own = inspect.signature(func, eval_str=True).parameters
    params = []
    for p in own.values():
        if p.name != "preflight_flags":
            params.append(p)
            continue
        params += [
            inspect.Parameter(
                name,
                p.kind,  # where preflight_flags stood
                annotation=kind,
                default=_PREFLIGHT_OPTIONS[name],
            )
            for name, kind in _PREFLIGHT_TYPES.items()
        ]

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name) for name in _PREFLIGHT_TYPES}
        return func(preflight_flags=flags, **kwargs)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return command


def _preflight_options(given: dict[str, Any], max_length: int | None) -> Any:
    """The PreflightOptions the ``--preflight-*`` flags ask for, or None (not asked);
    ``max_length``: the token check's, the default for the pre-flight's."""
    from prefdata.preflight.attach import PreflightOptions

    gate = tuple(c for c in given.get("preflight_fail_on", "").split(",") if c)
    if given.get("preflight_tokenizer") is None:
        if gate:
            from prefdata.errors import ConfigError

            raise ConfigError("--preflight-fail-on needs --preflight-tokenizer DIR")
        return None
    options = PreflightOptions(
        tokenizer=str(given["preflight_tokenizer"]),
        trainer=given["preflight_trainer"],
        max_length=given["preflight_max_length"] or max_length,
        truncation_mode=given["preflight_truncation_mode"],
        fail_on=gate,
        template=given["preflight_template"],
    )
    options.check()
    return options


def _print_preflight(ledger: dict[str, Any]) -> None:
    from prefdata.cli.commands_preflight import print_ledger

    if ledger.get("skipped"):
        console.print("pre-flight: no pair kept, nothing to plan", highlight=False)
    else:
        console.print("[bold]pre-flight[/]:", end=" ")
        print_ledger(ledger)


def _gate_preflight(report: Report, options: Any) -> None:
    """filter's --preflight-fail-on: the result is already published (to show why), so a
    failing gate only sets validate's exit status, 1, for CI to stop before training."""
    from prefdata.preflight.attach import gate

    hit = gate(report.preflight, options.fail_on) if options is not None else {}
    if hit:
        err_console.print(
            f"[red]FAIL[/]: pre-flight found {hit} (--preflight-fail-on)", highlight=False
        )
        raise typer.Exit(EXIT_GATE)


def _run_with_progress(quiet: bool, call: Any) -> Report:
    if quiet or not err_console.is_terminal:  # no bar in a log: it would leave a blank line
        return call(None)
    columns = (
        TextColumn("[bold]checking[/]"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} pairs"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("checking", total=None, rows=0)

        def update(done: int, total: int, rows: int) -> None:
            bar.update(task, completed=done, total=total, rows=rows)

        return call(update)


def _summary(report: Report) -> None:
    table = Table(title=None, show_edge=False)
    table.add_column("reason")
    table.add_column("pairs", justify="right")
    table.add_column("share", justify="right")
    for code, count in report.reasons.items():
        if count:
            share = count / report.input_rows if report.input_rows else 0
            table.add_row(code, f"{count:,}", f"{share:.1%}")
    console.print(
        f"[bold]{report.input_rows:,}[/] pairs read: [green]{report.kept_rows:,} kept[/], "
        f"[red]{report.dropped_rows:,} dropped[/] ({report.drop_rate:.1%}) "
        f"in {report.timings.get('seconds', 0):.2f} s"
    )
    if table.row_count:
        console.print(table)
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}")


def register(app: typer.Typer) -> None:
    """Add the curation commands to the app."""

    @app.command("filter")
    @settings_options(FilterConfig, ReadOptions)
    @preflight_flags
    def filter_command(
        inputs: list[Path] = INPUTS,
        out: Path = typer.Option(
            ...,
            "--out",
            "-o",
            help="Output folder: kept.parquet, "
            "dropped.parquet (with reasons), report.json, report.html and "
            "a dataset card README.md.",
        ),
        preflight_flags: dict[str, Any] | None = None,
        engine: str = _ENGINE_OPTIONS["engine"],
        ray_address: str | None = _ENGINE_OPTIONS["ray_address"],
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
        **settings: Any,
    ) -> None:
        """Check every pair and write the curated set.

        Writes OUT/kept.parquet (canonical columns, ready for TRL), OUT/dropped.parquet
        (every dropped pair with its reasons and source row), OUT/report.json, report.html
        and README.md. OUT is replaced as a whole, in one step, once the new result is
        complete; other files in OUT are kept. With --engine ray, kept and dropped are
        folders of part-NNNNNN.parquet files. Exit status 1 when a kept pair has a
        --preflight-fail-on code (the result is still written, to show why).

        Example: `prefdata filter data.jsonl.gz --out curated/ --similarity difflib`
        """
        with errors_to_exit():
            filter_config, read_options = configs_from(settings)
            preflight = _preflight_options(preflight_flags or {}, settings.get("max_length"))
            report = _run_with_progress(
                quiet,
                lambda progress: filter_pairs(
                    inputs,
                    out,
                    config=filter_config,
                    read_options=read_options,
                    progress=progress,
                    engine=engine,
                    ray_address=ray_address,
                    preflight=preflight,
                ),
            )
        written = layout_of(engine)
        kept, dropped = (f"{n}/" if written.parts else n for n in (written.kept, written.dropped))
        if not quiet:
            _summary(report)
            if report.preflight:
                _print_preflight(report.preflight)
            extra = ", preflight.parquet, preflight.json" if report.preflight else ""
            console.print(
                f"wrote {escape(str(out))}/{kept}, {dropped}, {REPORT}, {HTML}, {CARD}{extra}"
            )
        if report.kept_rows == 0:
            top = next(iter(report.reasons), "none")
            err_console.print(
                f"[bold red]error:[/] nothing kept: all {report.dropped_rows:,} pairs were "
                f"dropped (most as {top}); see {escape(str(out))}/{dropped}'s reasons "
                "and detail, or `prefdata inspect` the input",
                highlight=False,
            )
            raise typer.Exit(EXIT_EMPTY)
        _gate_preflight(report, preflight)

    @app.command("validate")
    @settings_options(FilterConfig, ReadOptions)
    @preflight_flags
    def validate_command(
        inputs: list[Path] = INPUTS,
        max_drop_rate: float = typer.Option(
            1.0,
            help="Exit with status 1 when more than this "
            "share of pairs would be dropped (a CI gate).",
        ),
        report_path: Path | None = typer.Option(
            None, "--report", help="Also write the report JSON here."
        ),
        preflight_flags: dict[str, Any] | None = None,
        engine: str = _ENGINE_OPTIONS["engine"],
        ray_address: str | None = _ENGINE_OPTIONS["ray_address"],
        quiet: bool = typer.Option(
            False, "--quiet", "-q", help="Print nothing but errors and the gate's verdict."
        ),
        **settings: Any,
    ) -> None:
        """Run the checks and report only; a gate for data pipelines.

        Exit status: 0 when the drop rate is within --max-drop-rate (and no pair has a
        --preflight-fail-on code), 1 when above it (or one has), 2 for unusable input or
        settings.

        Example: `prefdata validate data.jsonl --max-drop-rate 0.05`
        """
        with errors_to_exit():
            from prefdata.errors import ConfigError

            if not 0 <= max_drop_rate <= 1:
                raise ConfigError(f"max_drop_rate must be between 0 and 1, got {max_drop_rate}")
            filter_config, read_options = configs_from(settings)
            preflight = _preflight_options(preflight_flags or {}, settings.get("max_length"))
            if preflight is not None and len(inputs) != 1:
                raise ConfigError(
                    f"--preflight-tokenizer plans one input as the trainer reads it, got "
                    f"{len(inputs)}: run validate once per file"
                )
            report = _run_with_progress(
                quiet,
                lambda progress: validate_pairs(
                    inputs,
                    config=filter_config,
                    read_options=read_options,
                    progress=progress,
                    engine=engine,
                    ray_address=ray_address,
                ),
            )
            if preflight is not None:
                from prefdata.preflight.attach import of_input

                report.preflight = of_input(inputs[0], preflight).ledger
            if report_path is not None:
                from prefdata.results.atomic import write_error
                from prefdata.writer import write_json_atomic

                try:
                    write_json_atomic(report_path, report.to_json())
                except OSError as exc:
                    raise write_error(exc, report_path) from exc
        if not quiet:
            _summary(report)
            if report.preflight:
                _print_preflight(report.preflight)
        failed = False
        if report.drop_rate > max_drop_rate:
            err_console.print(
                f"[red]FAIL[/]: drop rate {report.drop_rate:.2%} is above "
                f"--max-drop-rate {max_drop_rate:.2%}"
            )
            failed = True
        if preflight is not None:
            from prefdata.preflight.attach import gate

            hit = gate(report.preflight, preflight.fail_on)
            if hit:
                err_console.print(
                    f"[red]FAIL[/]: pre-flight found {hit} (--preflight-fail-on)", highlight=False
                )
                failed = True
        if failed:
            raise typer.Exit(EXIT_GATE)
        if not quiet:
            console.print(
                f"[green]OK[/]: drop rate {report.drop_rate:.2%} is within {max_drop_rate:.2%}"
            )

    @app.command("inspect")
    @settings_options(ReadOptions, config_file=False)
    def inspect_command(
        path: Path | None = typer.Argument(None, help="One input file or folder."),
        formats: bool = typer.Option(
            False, "--formats", help="List the record layouts prefdata reads, and stop."
        ),
        samples: int = typer.Option(3, help="How many pairs to show."),
        **settings: Any,
    ) -> None:
        """Show how prefdata reads a file: type, layout, rows, columns and a few pairs."""
        if formats:
            from prefdata.readers.layouts import LAYOUTS

            for name, spec in LAYOUTS.items():
                console.print(f"  [bold]{name}[/]: {escape(spec.summary)}")
            return
        with errors_to_exit():
            if path is None:
                from prefdata.errors import ConfigError

                raise ConfigError("inspect needs a PATH (or --formats)")
            _, read_options = configs_from(settings)
            result = inspect_input(path, read_options, samples=samples)
        console.print(f"[bold]{escape(result.path)}[/]")
        console.print(
            f"  file type: {result.file_type}   layout: {result.layout}   shape: {result.shape}"
        )
        console.print(f"  records: {result.rows:,} ({result.readable_rows:,} readable as pairs)")
        for code, count in result.unreadable.items():
            console.print(f"    {code}: {count:,}")
            for detail in result.details.get(code, []):
                console.print(f"      e.g. {escape(detail)}")
        console.print(
            "  columns: id, prompt, chosen, rejected"
            + (
                f" + carried {escape(str(result.carried_columns))}"
                if result.carried_columns
                else ""
            )
        )
        for i, sample in enumerate(result.samples, 1):
            console.print(f"\n[bold]pair {i}[/] id={escape(str(sample['id']))}")
            for key in ("prompt", "chosen", "rejected"):
                console.print(f"  [cyan]{key}[/]: {escape(_preview(sample[key]))}")
        for warning in result.warnings:
            err_console.print(f"[yellow]warning:[/] {escape(warning)}")


def _preview(value: Any, limit: int = 160) -> str:
    if isinstance(value, list):
        value = " | ".join(f"{m.get('role')}: {m.get('content')}" for m in value)
    text = str(value).replace("\n", "⏎ ")
    return text if len(text) <= limit else text[: limit - 1] + "…"

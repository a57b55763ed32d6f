"""`prefdata filter`, `validate` and `inspect`: curation from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from prefdata.cli.output import EXIT_EMPTY, EXIT_GATE, console, err_console, errors_to_exit
from prefdata.config import FilterConfig, ReadOptions, build_configs, load_config_file
from prefdata.inspection import inspect_input
from prefdata.pipeline import Report, filter_pairs, validate_pairs
from prefdata.results import CARD, HTML, REPORT, layout_of

INPUTS = typer.Argument(
    ...,
    exists=False,
    help="Input files or folders: JSONL (.gz), JSON array, CSV, Parquet, "
    "or a datasets save_to_disk folder. The layout (TRL, HH-RLHF, ShareGPT) is detected.",
)

# Options shared by filter and validate: each maps to a FilterConfig/ReadOptions field.
_CHECK_OPTIONS: dict[str, Any] = {
    "config": typer.Option(
        None,
        "--config",
        "-c",
        help="YAML or TOML file of settings (keys: "
        "the option names with underscores). Flags override it.",
    ),
    "similarity": typer.Option(
        None,
        help="Similarity metric: indel (rapidfuzz, default) or "
        "difflib (SequenceMatcher.ratio, the reference design's number).",
    ),
    "min_chosen_chars": typer.Option(
        None, help="Drop pairs whose chosen response is shorter (characters; default 50)."
    ),
    "min_rejected_chars": typer.Option(
        None, help="Drop pairs whose rejected response is shorter (characters; default 20)."
    ),
    "max_similarity": typer.Option(
        None, help="Drop pairs whose responses are more similar than this (0-1; default 0.9)."
    ),
    "max_response_chars": typer.Option(
        None, help="Drop responses longer than this instead of comparing them (default 100000)."
    ),
    "disable": typer.Option(
        None,
        "--disable",
        help="Skip a check by name (repeatable): "
        "empty_response, identical_pair, too_short, too_long, too_similar, "
        "token_limits, duplicate_pair, contradictory_pair, "
        "near_duplicate_prompt, contaminated_prompt.",
    ),
    "eval_sets": typer.Option(
        None,
        "--eval-set",
        help="Evaluation set (any readable file; "
        "repeatable): training pairs whose prompt matches one of its "
        "prompts, exactly or by MinHash, are dropped as contaminated_prompt.",
    ),
    "near_duplicates": typer.Option(
        None,
        "--near-duplicates/--no-near-duplicates",
        help="Count near-duplicate prompts (MinHash LSH) in the report (default off: it "
        "costs about 100 us per pair).",
    ),
    "drop_near_duplicates": typer.Option(
        None,
        "--drop-near-duplicates/--keep-near-duplicates",
        help="Drop prompts near-duplicating an earlier one "
        "(counted in the report either way; default keep).",
    ),
    "near_duplicate_threshold": typer.Option(
        None,
        help="MinHash Jaccard similarity of 3-word "
        "shingles at which prompts are near (default 0.8).",
    ),
    "balance_length": typer.Option(
        None,
        "--balance-length/--no-balance-length",
        help="Subsample so chosen is longer as often as rejected (length_balance).",
    ),
    "seed": typer.Option(None, help="Seed of --balance-length's sampling (default 0)."),
    "tokenizer": typer.Option(
        None,
        help="Local Hugging Face tokenizer folder: turns on the "
        "token checks (prompt_boundary_merge; with --max-length the rest).",
    ),
    "max_length": typer.Option(None, help="TRL's max_length: prompt + completion tokens."),
    "length_unit": typer.Option(
        None, help="Unit of the minimum lengths: chars (default) or tokens (needs --tokenizer)."
    ),
    "layout": typer.Option(
        None,
        "--format",
        help="Record layout: auto (detected from the keys) or a name that "
        "`prefdata inspect --formats` lists (trl, hh, sharegpt, alpaca, orca, h4, openai, "
        "shp, arena, pku, labelled).",
    ),
    "file_type": typer.Option(None, help="Container: auto, jsonl, json, csv, parquet, hf."),
    "prompt_column": typer.Option(None, help="Column holding the prompt."),
    "chosen_column": typer.Option(None, help="Column holding the chosen response."),
    "rejected_column": typer.Option(None, help="Column holding the rejected response."),
    "id_column": typer.Option(None, help="Column holding a stable pair id (default: id)."),
    "response_a_column": typer.Option(
        None, help="Labelled pairs: column of the first response (with --label-column)."
    ),
    "response_b_column": typer.Option(None, help="Labelled pairs: column of the second one."),
    "label_column": typer.Option(
        None,
        help="Labelled pairs: column saying which response won: a/model_a/0 or b/model_b/1; "
        "tie, tie (bothbad), both_bad, none or null drop the row as no_preference.",
    ),
    "prefer": typer.Option(
        None, help="PKU-SafeRLHF layout: better (better_response_id, default) or safer."
    ),
    "workers": typer.Option(
        None,
        help="Threads for parsing and checking (0: one per core, up to 8, for inputs over "
        "8 MiB; 1: no threads).",
    ),
}

# Where the checks run: filter and validate (not settings of the checks, so not above).
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
}
PREFLIGHT_FAIL_ON = typer.Option(
    "",
    "--preflight-fail-on",
    help="Comma-separated pre-flight reason codes: exit 1 when any pair has one (a CI gate).",
)


def _preflight_options(given: dict[str, Any], fail_on: str = "") -> Any:
    """The PreflightOptions the ``--preflight-*`` flags ask for, or None (not asked)."""
    from prefdata.preflight.attach import PreflightOptions

    gate = tuple(c for c in fail_on.split(",") if c)
    if given.get("preflight_tokenizer") is None:
        if gate:
            from prefdata.errors import ConfigError

            raise ConfigError("--preflight-fail-on needs --preflight-tokenizer DIR")
        return None
    options = PreflightOptions(
        tokenizer=str(given["preflight_tokenizer"]),
        trainer=given["preflight_trainer"],
        max_length=given.get("preflight_max_length") or given.get("max_length"),
        truncation_mode=given["preflight_truncation_mode"],
        fail_on=gate,
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


def _configs(config: Path | None, given: dict[str, Any]) -> tuple[FilterConfig, ReadOptions]:
    """Settings from the config file, overridden by the check options a command was given.

    ``given`` is the command's ``locals()``: every ``_CHECK_OPTIONS`` name is a parameter.
    """
    settings = load_config_file(config) if config else {}
    flags = {name: given.get(name) for name in _CHECK_OPTIONS if name != "config"}
    for name in ("eval_sets", "tokenizer"):  # Paths from typer, text in the config
        value = flags[name]
        flags[name] = (
            ([str(p) for p in value] or None)
            if isinstance(value, list)
            else (str(value) if value is not None else None)
        )
    if flags.get("disable") == []:
        flags["disable"] = None
    return build_configs(settings, **flags)


def _run_with_progress(quiet: bool, call: Any) -> Report:
    if quiet:
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
        config: Path | None = _CHECK_OPTIONS["config"],
        similarity: str | None = _CHECK_OPTIONS["similarity"],
        min_chosen_chars: int | None = _CHECK_OPTIONS["min_chosen_chars"],
        min_rejected_chars: int | None = _CHECK_OPTIONS["min_rejected_chars"],
        max_similarity: float | None = _CHECK_OPTIONS["max_similarity"],
        max_response_chars: int | None = _CHECK_OPTIONS["max_response_chars"],
        disable: list[str] | None = _CHECK_OPTIONS["disable"],
        layout: str | None = _CHECK_OPTIONS["layout"],
        file_type: str | None = _CHECK_OPTIONS["file_type"],
        prompt_column: str | None = _CHECK_OPTIONS["prompt_column"],
        chosen_column: str | None = _CHECK_OPTIONS["chosen_column"],
        rejected_column: str | None = _CHECK_OPTIONS["rejected_column"],
        id_column: str | None = _CHECK_OPTIONS["id_column"],
        response_a_column: str | None = _CHECK_OPTIONS["response_a_column"],
        response_b_column: str | None = _CHECK_OPTIONS["response_b_column"],
        label_column: str | None = _CHECK_OPTIONS["label_column"],
        prefer: str | None = _CHECK_OPTIONS["prefer"],
        workers: int | None = _CHECK_OPTIONS["workers"],
        eval_sets: list[Path] | None = _CHECK_OPTIONS["eval_sets"],
        near_duplicates: bool | None = _CHECK_OPTIONS["near_duplicates"],
        drop_near_duplicates: bool | None = _CHECK_OPTIONS["drop_near_duplicates"],
        near_duplicate_threshold: float | None = _CHECK_OPTIONS["near_duplicate_threshold"],
        balance_length: bool | None = _CHECK_OPTIONS["balance_length"],
        seed: int | None = _CHECK_OPTIONS["seed"],
        tokenizer: Path | None = _CHECK_OPTIONS["tokenizer"],
        max_length: int | None = _CHECK_OPTIONS["max_length"],
        length_unit: str | None = _CHECK_OPTIONS["length_unit"],
        preflight_tokenizer: Path | None = _PREFLIGHT_OPTIONS["preflight_tokenizer"],
        preflight_trainer: str = _PREFLIGHT_OPTIONS["preflight_trainer"],
        preflight_max_length: int | None = _PREFLIGHT_OPTIONS["preflight_max_length"],
        preflight_truncation_mode: str = _PREFLIGHT_OPTIONS["preflight_truncation_mode"],
        engine: str = _ENGINE_OPTIONS["engine"],
        ray_address: str | None = _ENGINE_OPTIONS["ray_address"],
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    ) -> None:
        """Check every pair and write the curated set.

        Writes OUT/kept.parquet (canonical columns, ready for TRL), OUT/dropped.parquet
        (every dropped pair with its reasons and source row), OUT/report.json, report.html
        and README.md. OUT is replaced as a whole, in one step, once the new result is
        complete; other files in OUT are kept. With --engine ray, kept and dropped are
        folders of part-NNNNNN.parquet files.

        Example: `prefdata filter data.jsonl.gz --out curated/ --similarity difflib`
        """
        with errors_to_exit():
            filter_config, read_options = _configs(config, locals())
            preflight = _preflight_options(locals())
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

    @app.command("validate")
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
        config: Path | None = _CHECK_OPTIONS["config"],
        similarity: str | None = _CHECK_OPTIONS["similarity"],
        min_chosen_chars: int | None = _CHECK_OPTIONS["min_chosen_chars"],
        min_rejected_chars: int | None = _CHECK_OPTIONS["min_rejected_chars"],
        max_similarity: float | None = _CHECK_OPTIONS["max_similarity"],
        max_response_chars: int | None = _CHECK_OPTIONS["max_response_chars"],
        disable: list[str] | None = _CHECK_OPTIONS["disable"],
        layout: str | None = _CHECK_OPTIONS["layout"],
        file_type: str | None = _CHECK_OPTIONS["file_type"],
        prompt_column: str | None = _CHECK_OPTIONS["prompt_column"],
        chosen_column: str | None = _CHECK_OPTIONS["chosen_column"],
        rejected_column: str | None = _CHECK_OPTIONS["rejected_column"],
        id_column: str | None = _CHECK_OPTIONS["id_column"],
        response_a_column: str | None = _CHECK_OPTIONS["response_a_column"],
        response_b_column: str | None = _CHECK_OPTIONS["response_b_column"],
        label_column: str | None = _CHECK_OPTIONS["label_column"],
        prefer: str | None = _CHECK_OPTIONS["prefer"],
        workers: int | None = _CHECK_OPTIONS["workers"],
        eval_sets: list[Path] | None = _CHECK_OPTIONS["eval_sets"],
        near_duplicates: bool | None = _CHECK_OPTIONS["near_duplicates"],
        drop_near_duplicates: bool | None = _CHECK_OPTIONS["drop_near_duplicates"],
        near_duplicate_threshold: float | None = _CHECK_OPTIONS["near_duplicate_threshold"],
        balance_length: bool | None = _CHECK_OPTIONS["balance_length"],
        seed: int | None = _CHECK_OPTIONS["seed"],
        tokenizer: Path | None = _CHECK_OPTIONS["tokenizer"],
        max_length: int | None = _CHECK_OPTIONS["max_length"],
        length_unit: str | None = _CHECK_OPTIONS["length_unit"],
        preflight_tokenizer: Path | None = _PREFLIGHT_OPTIONS["preflight_tokenizer"],
        preflight_trainer: str = _PREFLIGHT_OPTIONS["preflight_trainer"],
        preflight_max_length: int | None = _PREFLIGHT_OPTIONS["preflight_max_length"],
        preflight_truncation_mode: str = _PREFLIGHT_OPTIONS["preflight_truncation_mode"],
        preflight_fail_on: str = PREFLIGHT_FAIL_ON,
        engine: str = _ENGINE_OPTIONS["engine"],
        ray_address: str | None = _ENGINE_OPTIONS["ray_address"],
        quiet: bool = typer.Option(
            False, "--quiet", "-q", help="Print nothing but errors and the gate's verdict."
        ),
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
            filter_config, read_options = _configs(config, locals())
            preflight = _preflight_options(locals(), preflight_fail_on)
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
    def inspect_command(
        path: Path | None = typer.Argument(None, help="One input file or folder."),
        formats: bool = typer.Option(
            False, "--formats", help="List the record layouts prefdata reads, and stop."
        ),
        samples: int = typer.Option(3, help="How many pairs to show."),
        layout: str | None = _CHECK_OPTIONS["layout"],
        file_type: str | None = _CHECK_OPTIONS["file_type"],
        prompt_column: str | None = _CHECK_OPTIONS["prompt_column"],
        chosen_column: str | None = _CHECK_OPTIONS["chosen_column"],
        rejected_column: str | None = _CHECK_OPTIONS["rejected_column"],
        id_column: str | None = _CHECK_OPTIONS["id_column"],
        response_a_column: str | None = _CHECK_OPTIONS["response_a_column"],
        response_b_column: str | None = _CHECK_OPTIONS["response_b_column"],
        label_column: str | None = _CHECK_OPTIONS["label_column"],
        prefer: str | None = _CHECK_OPTIONS["prefer"],
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
            _, read_options = _configs(None, locals())
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

"""`prefdata preflight DATA`: what the trainer will really train on, pair by pair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from prefdata.cli.output import EXIT_GATE, console, err_console, errors_to_exit
from prefdata.errors import ConfigError


def print_ledger(ledger: dict[str, Any], out: Path | None = None) -> None:
    """The ledger's summary and suggestions; with ``out``, where the files went."""
    if ledger["trainer"] == "trl":
        setting = f"max_length={ledger['max_length']} truncation_mode={ledger['truncation_mode']}"
    else:
        setting = f"cutoff_len={ledger['max_length']}"
        if ledger.get("template"):
            setting += f" template={ledger['template']}"
    implicit = " (prompts extracted by the trainer)" if ledger["implicit_prompt"] else ""
    console.print(
        f"{ledger['trainer']} {ledger['trainer_version'] or ''} {setting}{implicit}",
        highlight=False,
    )
    lost = ledger["tokens_lost"]
    console.print(
        f"rows in {ledger['rows_in']}: kept {ledger['kept']}, dropped {ledger['dropped']}, "
        f"truncated {ledger['truncated']}; tokens lost: chosen {lost['chosen']}, "
        f"rejected {lost['rejected']}; identical after truncation "
        f"{ledger['identical_after_truncation']}",
        highlight=False,
    )
    counted = {**ledger["reasons"], **ledger["dropped_by_reason"]}
    for code, n in counted.items():
        if n:
            console.print(f"  {code}: {n}", highlight=False)
    for s in ledger["suggestions"]:
        gives = ", ".join(f"{k} {v}" for k, v in s["gives"].items())
        console.print(f"suggest {s['setting']}={s['value']}: {s['why']} ({gives})", highlight=False)
    if out is not None:
        console.print(f"wrote {escape(str(out))}/preflight.parquet and preflight.json")


def register(app: typer.Typer) -> None:
    @app.command("preflight")
    def preflight_command(
        data: Path = typer.Argument(
            ..., help="Pairs: a prefdata output folder, a Parquet file, or any file `filter` reads."
        ),
        tokenizer: Path = typer.Option(..., "--tokenizer", help="Local tokenizer folder."),
        out: Path = typer.Option(
            ..., "--out", help="Folder for preflight.parquet and preflight.json."
        ),
        trainer: str = typer.Option(
            "trl", "--trainer", help="Trainer to model: trl (1.16) or llamafactory (0.9.5)."
        ),
        max_length: int | None = typer.Option(
            None,
            "--max-length",
            help="TRL's max_length or LLaMA-Factory's cutoff_len, in tokens "
            "(default: the trainer's own, 1024 and 2048).",
        ),
        truncation_mode: str = typer.Option(
            "keep_start", "--truncation-mode", help="TRL's truncation_mode: keep_start or keep_end."
        ),
        max_prompt_length: int | None = typer.Option(
            None,
            "--max-prompt-length",
            help="Prompt token limit, for trainers that have one (TRL 1.16 has none).",
        ),
        template: str | None = typer.Option(
            None,
            "--template",
            help="LLaMA-Factory's named template (llama3, qwen), as its `template:` "
            "setting; default: parsed from the tokenizer's chat template (template: null).",
        ),
        fail_on: str = typer.Option(
            "",
            "--fail-on",
            help="Comma-separated reason codes: exit 1 when any pair has one (a CI gate).",
        ),
    ) -> None:
        """Show, pair by pair, what the trainer keeps, drops and truncates, and why.

        Writes OUT/preflight.parquet (one row per pair) and OUT/preflight.json (the
        ledger), prints the summary and the settings that would avoid each loss.

        Example: `prefdata preflight curated/ --tokenizer tok/ --max-length 512 --out pf/`
        """
        from prefdata.preflight import DEFAULT_MAX_LENGTH, codes, preflight, source, write
        from prefdata.tokenization import load_tokenizer

        with errors_to_exit():
            gate = [c for c in fail_on.split(",") if c]
            unknown = [c for c in gate if c not in codes.ALL]
            if unknown:
                raise ConfigError(
                    f"--fail-on: unknown reason code(s) {unknown}; known: {list(codes.ALL)}"
                )
            if max_prompt_length is not None and trainer == "trl":
                raise ConfigError(
                    "TRL 1.16 has no max_prompt_length (it was removed): leave out "
                    "--max-prompt-length, or run preflight on the pairs `prefdata train` "
                    "writes after applying its own"
                )
            if max_prompt_length is not None:
                raise ConfigError(
                    "LLaMA-Factory 0.9.5 has no prompt limit (cutoff_len is shared between "
                    "prompt and response by its infer_seqlen): leave out --max-prompt-length"
                )
            table, unreadable = source.load(data)
            result = preflight(
                table,
                load_tokenizer(str(tokenizer)),
                trainer=trainer,
                max_length=max_length or DEFAULT_MAX_LENGTH.get(trainer),
                truncation_mode=truncation_mode,
                unreadable=unreadable,
                template=template,
            )
            folder = write(result, out)
        print_ledger(result.ledger, folder)
        hit = {c: n for c in gate if (n := result.ledger["reasons"][c])}
        if hit:
            err_console.print(f"gate failed: {hit} (--fail-on)", highlight=False)
            raise typer.Exit(EXIT_GATE)

"""`prefdata convert`: between HH/ShareGPT/TRL pairs, rated completions and KTO rows."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from prefdata.cli.output import EXIT_EMPTY, console, err_console, errors_to_exit
from prefdata.config import ReadOptions
from prefdata.convert import convert

SOURCE = typer.Argument(
    ...,
    help="Input file: pairs (TRL, HH-RLHF, ShareGPT), rated "
    "completions (UltraFeedback style) or unpaired KTO rows.",
)
TO = typer.Option(
    ...,
    "--to",
    help="Target form: text, conversational (explicit-prompt "
    "pairs; rated data is binarised), openai (OpenAI preference fine-tuning JSONL), "
    "unpaired (KTO) or paired (from KTO).",
)
OUT = typer.Option(..., "--out", "-o", help="Output file: .jsonl, .json or .parquet.")
PAIRING = typer.Option(
    "best_worst",
    help="Rated data: best_worst, or best_random (best vs a random lower-scored completion).",
)
SEED = typer.Option(0, help="Seed for best_random.")
SCORE = typer.Option(
    "helpfulness",
    help="One row per response (HelpSteer2 style): the attribute to rank by, or a weighted "
    "sum, e.g. 'helpfulness=0.65,correctness=0.8'.",
)
PREFER = typer.Option(
    "better", help="PKU-SafeRLHF pairs: better (better_response_id) or safer (safer_response_id)."
)


def register(app: typer.Typer) -> None:
    @app.command("convert")
    def convert_command(
        source: Path = SOURCE,
        to: str = TO,
        out: Path = OUT,
        pairing: str = PAIRING,
        seed: int = SEED,
        score: str = SCORE,
        prefer: str = PREFER,
    ) -> None:
        """Convert preference data between forms.

        Example: `prefdata convert hh.jsonl.gz --to conversational --out hh.jsonl`
        """
        with errors_to_exit():
            result = convert(
                source,
                to,
                out,
                pairing=pairing,  # type: ignore[arg-type]
                seed=seed,
                score=score,
                read_options=ReadOptions(prefer=prefer),
            )
        console.print(
            f"{result.input_kind} -> {to}: wrote {result.rows_written:,} rows to {escape(str(out))}"
        )
        for cause, count in result.skipped.items():
            console.print(f"  skipped {count:,}: {escape(cause)}")
        if result.rows_written == 0:
            err_console.print(
                "[bold red]error:[/] nothing written: no input row could be converted; "
                "see the skipped causes above, or `prefdata inspect` the input",
                highlight=False,
            )
            raise typer.Exit(EXIT_EMPTY)

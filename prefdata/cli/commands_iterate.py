"""`prefdata iterate` (iterative DPO rounds) and `prefdata audit` (a review queue of
likely mislabelled pairs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from prefdata.cli.output import console, errors_to_exit


def summary_table(rounds: list[dict[str, Any]]) -> Table:
    """The per-round figures as a rich table (the same rows as summary.csv)."""
    table = Table(title="iterate: rounds")
    columns = ["round", "mean_reward", "pairs", "ties", "pairs_kept", "mean_margin"]
    columns += ["dpo_margin", "trained", "duration_s"]
    if any(row.get("eval_reward") is not None for row in rounds):
        columns[2:2] = ["eval_reward_before", "eval_reward"]
    for name in columns:
        table.add_column(name, justify="right")
    for row in rounds:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    return table


def register(app: typer.Typer) -> None:
    """Add `iterate` and `audit` to the CLI."""

    @app.command("iterate")
    def iterate_command(
        recipe: Annotated[Path, typer.Argument(help="Iterate recipe (YAML or TOML).")],
        output_dir: Annotated[
            Path | None, typer.Option("--output-dir", help="Overrides the recipe's output_dir.")
        ] = None,
        progress: Annotated[
            bool, typer.Option("--progress/--no-progress", help="Training progress display.")
        ] = True,
    ) -> None:
        """Rounds of sample -> score -> pair -> curate -> train; resumes unfinished rounds."""
        with errors_to_exit():
            from prefdata.iterate import iterate

            result = iterate(
                recipe,
                output_dir=None if output_dir is None else str(output_dir),
                progress=progress,
                log=lambda message: console.print(message, highlight=False),
            )
            console.print(summary_table(result.rounds))
            console.print(
                f"final model -> {result.final_model}; summary -> "
                f"{result.output_dir / 'summary.csv'}",
                highlight=False,
            )

    @app.command("audit")
    def audit_command(
        model: Annotated[Path, typer.Option("--model", help="Trained model or adapter folder.")],
        data: Annotated[Path, typer.Option("--data", help="The pairs to audit (curated Parquet).")],
        ref: Annotated[
            Path | None,
            typer.Option("--ref", help="Reference model; default: adapter base or the manifest's."),
        ] = None,
        out: Annotated[
            Path, typer.Option("--out", help="Review queue Parquet for `prefdata app --queue`.")
        ] = Path("audit.parquet"),
        top: Annotated[
            int, typer.Option("--top", min=1, help="Pairs in the queue (most negative first).")
        ] = 100,
        beta: Annotated[
            float | None, typer.Option("--beta", help="Default: the manifest's beta.")
        ] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 8,
        device: Annotated[
            str | None,
            typer.Option(
                "--device", help="cuda, cuda:1 or cpu; default: the GPU when there is one."
            ),
        ] = None,
    ) -> None:
        """Rank pairs by the trained model's implicit reward margin; the lowest go to review."""
        with errors_to_exit():
            from prefdata.train.audit import audit

            result = audit(
                model=model,
                data=data,
                ref=ref,
                out=out,
                top=top,
                beta=beta,
                batch_size=batch_size,
                device=device,
            )
            console.print(
                f"{result.negative} of {result.pairs} pairs have a negative margin; "
                f"{result.queue.num_rows} queued for review -> {out}\n"
                f"review them: prefdata app --data {data} --queue {out}",
                highlight=False,
            )

"""`prefdata train`, `evaluate`, `export-model` and `make-tiny-model`."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from prefdata.cli.output import console, err_console, errors_to_exit


@contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show the library's TrainingWarnings as one ``warning:`` line each."""
    from prefdata.train.notices import TrainingWarning

    original = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, TrainingWarning):
            err_console.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False)
        else:
            original(message, category, *args, **kwargs)

    # catch_warnings restores showwarning and the filters on the way out
    with warnings.catch_warnings():
        warnings.simplefilter("always", TrainingWarning)
        warnings.showwarning = show
        yield


def register(app: typer.Typer) -> None:
    """Add the training commands to the app."""

    @app.command("train")
    def train_command(
        recipe: Annotated[
            Path, typer.Argument(help="Recipe YAML: data, model, output_dir, method...")
        ],
        output_dir: Annotated[
            str | None, typer.Option("--output-dir", help="Override output_dir.")
        ] = None,
        resume: Annotated[
            bool, typer.Option("--resume", help="Resume from the last checkpoint.")
        ] = False,
        overwrite: Annotated[
            bool,
            typer.Option("--overwrite", help="Replace the run already in a non-empty output_dir."),
        ] = False,
        check: Annotated[
            bool, typer.Option("--check", help="Run the pre-flight checks only; load no model.")
        ] = False,
        merge: Annotated[
            Path | None,
            typer.Option("--merge", help="LoRA runs: also write the merged model to this folder."),
        ] = None,
    ) -> None:
        """Train a model on curated pairs as RECIPE says (DPO, R-DPO, KTO, ORPO, SimPO, CPO)."""
        with errors_to_exit(), _warnings_as_lines():
            from prefdata.train.runner import preflight, train

            options: dict[str, Any] = {
                "resume": resume, "overwrite": overwrite, "merge_to": merge, "output_dir": output_dir,
            }  # fmt: skip
            if check:
                prep = preflight(recipe, **options)
                console.print(
                    f"pre-flight ok: {len(prep.train)} training pairs"
                    + (f", {len(prep.eval)} eval pairs" if prep.eval is not None else "")
                    + f", method {prep.recipe.method}"
                )
                return
            result = train(recipe, **options)
            figures = {
                k: round(v, 4)
                for k, v in result.eval_metrics.items()
                if k in ("eval_loss", "eval_rewards/accuracies", "eval_rewards/margins")
            }
            console.print(f"trained in {result.duration_s}s -> {result.output_dir}")
            if result.merged_dir is not None:
                console.print(f"merged model -> {result.merged_dir}", highlight=False)
            if figures:
                console.print(" ".join(f"{k}={v}" for k, v in figures.items()))

    @app.command("evaluate")
    def evaluate_command(
        model: Annotated[Path, typer.Option("--model", help="Trained model or adapter folder.")],
        data: Annotated[Path, typer.Option("--data", help="Curated Parquet of held-out pairs.")],
        ref: Annotated[
            Path | None,
            typer.Option("--ref", help="Reference model; default: adapter base or the manifest's."),
        ] = None,
        out: Annotated[
            Path | None, typer.Option("--out", help="Per-pair margins as Parquet.")
        ] = None,
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
        """Preference accuracy (the method's implicit reward margin > 0) and mean margin,
        with the training's truncation, on the GPU when there is one."""
        with errors_to_exit(), _warnings_as_lines():
            from prefdata.train.evaluation import evaluate

            result = evaluate(
                model=model, data=data, ref=ref, out=out, beta=beta, batch_size=batch_size,
                device=device,
            )  # fmt: skip
            console.print(
                f"accuracy {result.accuracy:.3f}  mean margin {result.mean_margin:.4f}  "
                f"({result.pairs} pairs, beta {result.beta}, reference {result.reference}, "
                f"{result.device}, max_length {result.max_length})\n"
                f"margin ({result.method}): {result.margin}",
                highlight=False,
            )
            if out is not None:
                console.print(f"per-pair margins -> {out}", highlight=False)

    @app.command("export-model")
    def export_model_command(
        adapter: Annotated[Path, typer.Option("--adapter", help="A LoRA handoff folder.")],
        out: Annotated[Path, typer.Option("--out", help="New folder for the merged model.")],
        dtype: Annotated[
            str | None,
            typer.Option("--dtype", help="float32, bfloat16 or float16; default: as trained."),
        ] = None,
    ) -> None:
        """Merge a LoRA adapter into its base model: a plain model folder for vLLM or serving."""
        with errors_to_exit():
            from prefdata.train.export import merge_adapter

            folder = merge_adapter(adapter, out, dtype=dtype)
            console.print(f"merged model -> {folder}", highlight=False)

    @app.command("make-tiny-model")
    def make_tiny_model_command(
        data: Annotated[Path, typer.Option("--data", help="Curated Parquet to train the BPE on.")],
        out: Annotated[Path, typer.Option("--out", help="Folder for the model and tokenizer.")],
        vocab_size: Annotated[int, typer.Option("--vocab-size")] = 512,
        hidden_size: Annotated[int, typer.Option("--hidden-size")] = 64,
        layers: Annotated[int, typer.Option("--layers")] = 2,
        seed: Annotated[int, typer.Option("--seed")] = 0,
    ) -> None:
        """Build a small random Llama-style model and a BPE tokenizer offline, for demos."""
        with errors_to_exit():
            from prefdata.train.tiny_model import make_tiny_model

            folder = make_tiny_model(
                data, out, vocab_size=vocab_size, hidden_size=hidden_size,
                num_layers=layers, seed=seed,
            )  # fmt: skip
            console.print(f"tiny model -> {folder}", highlight=False)

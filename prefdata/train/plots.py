"""PNG curves of the logged training metrics, one file per metric (matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefdata.errors import require

PLOTTED = (
    "loss",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "logps/chosen",
    "logps/rejected",
    "learning_rate",
)


def plot_metrics(records: list[dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write ``<metric>.png`` for each metric present (train curve plus eval points)."""
    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg")  # no display on training machines
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    written: list[Path] = []
    for name in PLOTTED:
        train = [(r["step"], r[name]) for r in records if isinstance(r.get(name), int | float)]
        evals = [
            (r["step"], r[f"eval_{name}"])
            for r in records
            if isinstance(r.get(f"eval_{name}"), int | float)
        ]
        if not train and not evals:
            continue
        out.mkdir(parents=True, exist_ok=True)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        if train:
            ax.plot(*zip(*train, strict=True), label="train", linewidth=1.5)
        if evals:
            ax.plot(*zip(*evals, strict=True), "o--", label="eval")
        ax.set_xlabel("step")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out / f"{name.replace('/', '_')}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written

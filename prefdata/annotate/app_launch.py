"""How ``prefdata app`` finds and starts the Streamlit app.

The pages live in the top-level ``app/`` folder, installed as the package
``prefdata_app``; from a source checkout that package is not importable, so the
folder next to ``prefdata/`` is used instead. The app is given its data and database
as script arguments (after ``--``) and reads nothing else: no page accepts a path.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from prefdata.annotate.queue import QUEUE_ORDERS
from prefdata.errors import ConfigError, InputError
from prefdata.results import FILE, PARTS, REPORT, is_result, open_result

SCRIPT_NAME = "streamlit_app.py"
DATA_FILES = (FILE.kept, FILE.dropped)  # what `prefdata filter` writes (or kept/, dropped/)


@dataclass(frozen=True)
class AppSettings:
    """Everything the app is started with; passed to the script as arguments."""

    db: Path
    data: list[Path] = field(default_factory=list)
    guidelines: Path | None = None
    annotators: list[str] = field(default_factory=list)
    overlap: int = 1
    queue_order: str = "overlap-first"
    open_mode: bool = False
    oidc: bool = False
    session_hours: float = 8.0
    min_seconds_on_screen: float | None = None  # None: the app's default

    def __post_init__(self) -> None:
        if self.overlap < 1:
            raise ConfigError(f"overlap must be >= 1, got {self.overlap}")
        if self.queue_order not in QUEUE_ORDERS:
            raise ConfigError(
                f"queue order must be one of {list(QUEUE_ORDERS)}, got {self.queue_order!r}"
            )
        if self.open_mode and self.oidc:
            raise ConfigError("--open and --oidc exclude each other: pick one way to sign in")
        if self.session_hours <= 0:
            raise ConfigError(f"session_hours must be > 0, got {self.session_hours}")
        if self.guidelines is not None and not self.guidelines.is_file():
            raise InputError(f"guidelines file not found: {self.guidelines}")

    def script_args(self) -> list[str]:
        args = ["--db", str(self.db), "--overlap", str(self.overlap)]
        for path in self.data:
            args += ["--data", str(path)]
        if self.guidelines is not None:
            args += ["--guidelines", str(self.guidelines)]
        if self.annotators:
            args += ["--annotators", ",".join(self.annotators)]
        args += ["--queue-order", self.queue_order, "--session-hours", str(self.session_hours)]
        if self.open_mode:
            args.append("--open")
        if self.oidc:
            args.append("--oidc")
        if self.min_seconds_on_screen is not None:
            args += ["--min-seconds-on-screen", str(self.min_seconds_on_screen)]
        return args


def expand_data(paths: list[Path]) -> list[Path]:
    """Files to import: each given file, or a filter output folder's kept/dropped sets."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir() and is_result(path):  # either layout; kept/ and dropped/ are folders
            result = open_result(path)
            files += [p for p in (result.kept, result.dropped) if p.exists()]
        elif path.is_dir():
            found = [path / name for name in DATA_FILES if (path / name).is_file()]
            if not found:
                raise InputError(
                    f"{path} holds neither {' nor '.join(DATA_FILES)}: pass a Parquet file"
                )
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"no such file or folder: {path}")
    return files


def default_db(data: list[Path]) -> Path:
    """The database beside the dataset: ``labels.sqlite`` in the data's folder."""
    if not data:
        raise ConfigError("pass --db, or --data so the database can sit beside it")
    first = data[0]
    folder = first if first.is_dir() else first.parent
    if folder.name in (PARTS.kept, PARTS.dropped) and (folder.parent / REPORT).exists():
        # a Ray result's kept/ or dropped/: the next filter run replaces that folder
        # whole, but carries files beside it, so the labels go in the result folder
        folder = folder.parent
    return folder / "labels.sqlite"


def parse_annotators(values: list[str]) -> list[str]:
    """Names from repeated and/or comma-separated options, trimmed, order kept."""
    names: list[str] = []
    for value in values:
        names += [n.strip() for n in value.split(",") if n.strip()]
    return list(dict.fromkeys(names))


def app_script() -> Path:
    """The Streamlit entry script, from the installed package or the checkout."""
    spec = importlib.util.find_spec("prefdata_app")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / SCRIPT_NAME
        if candidate.is_file():
            return candidate
    checkout = Path(__file__).resolve().parents[2] / "app" / SCRIPT_NAME
    if checkout.is_file():
        return checkout
    raise InputError(
        f"cannot find the app's {SCRIPT_NAME}: reinstall prefdata with the 'app' extra"
    )


def streamlit_command(
    settings: AppSettings,
    *,
    port: int | None = None,
    address: str = "localhost",
    headless: bool = True,
) -> list[str]:
    """The ``streamlit run`` command line that starts the app with these settings."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_script()),
        "--server.address",
        address,
        "--server.headless",
        str(headless).lower(),
        "--browser.gatherUsageStats",
        "false",
        # no "Deploy" button or developer menu for annotators
        "--client.toolbarMode",
        "minimal",
    ]
    if port is not None:
        command += ["--server.port", str(port)]
    return [*command, "--", *settings.script_args()]


def app_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the Streamlit process: it must import the same ``prefdata`` as
    the command that starts it, even from a checkout that is not installed and a
    working directory elsewhere, so that package's folder goes first on PYTHONPATH."""
    env = dict(os.environ if base is None else base)
    root = str(Path(__file__).resolve().parents[2])
    paths = [root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


LOCAL_ADDRESSES = ("localhost", "127.0.0.1", "::1")


def check_sign_in(settings: AppSettings, *, address: str, accounts: int) -> None:
    """Refuse to serve without a way to sign in, or without login beyond localhost."""
    if settings.open_mode:
        if address not in LOCAL_ADDRESSES:
            raise ConfigError(
                f"--open serves without login, so only on localhost (got --address {address}):"
                " add accounts with `prefdata annotate user add` instead"
            )
        return
    if accounts == 0 and not settings.oidc:
        raise InputError(
            f"{settings.db} has no accounts: add one with `prefdata annotate user add NAME"
            f" --role lead --db {settings.db}` (password on stdin), or pass --open for one"
            " person on localhost"
        )


# How long the server gets to stop after SIGTERM before it is killed.
STOP_GRACE_S = 10.0


def run_app(command: list[str], env: dict[str, str]) -> int:
    """Run the Streamlit server until it exits; SIGTERM or SIGINT to this process stops
    it too (forwarded, then killed after STOP_GRACE_S), so no server is left behind."""
    server = subprocess.Popen(command, env=env)
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        if server.poll() is None:
            server.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        deadline: float | None = None
        while server.poll() is None:
            if received and deadline is None:
                deadline = time.monotonic() + STOP_GRACE_S
            if deadline is not None and time.monotonic() > deadline:
                server.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=0.2)  # wake up to check the grace deadline
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    status = int(server.returncode)
    if received:
        return 128 + received[0]
    return status

"""Label -> next pair visible, two annotators at once, in a real browser (Debian chromium).

A script, not a test: it prints figures and asserts nothing about time.

    python tests/benchmarks/bench_app_latency.py [--labels 20] [--overlap 2]
        [--baseline f8b47b3]

Two simulated annotators sign in from two browser contexts (one thread and one
browser each, as two people on two machines) and label ``--labels`` pairs each by
keyboard (``--stagger N``: bob starts once alice has labelled N, as when people do
not start at the same second). Each "reads" the pair for ``--read-s`` seconds, picks a response by a
fixed rule (alice: the longer one; bob: the same rule with a quarter of his votes
flipped at random, seeded), presses A or B, and the time from the key press until
the next pair's id is on the page is one sample. The data is the HH-RLHF harmless
test set curated by ``prefdata filter`` (1,738 pairs; ``../shared/data``), or
synthetic pairs when that folder is absent.

With ``--baseline COMMIT`` the same run is made first against the app as it was at
that commit (extracted with ``git archive`` into a temporary folder, name-only
sign-in), so the ratio compares two runs on the same machine minutes apart.
The agreement figures after the run come from the labels the two wrote.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from prefdata.annotate.accounts import add_user  # noqa: E402
from prefdata.annotate.agreement import agreement_report  # noqa: E402
from prefdata.annotate.label_store import LabelStore  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HH = ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"
PASSWORDS = {"alice": "alice-bench-1", "bob": "bob-bench-22"}
FLIP = {"alice": 0.0, "bob": 0.25}

# The id of the pair on screen, from the "Pair <id>" caption (old and new app alike).
_PAIR_JS = """() => {
  for (const el of document.querySelectorAll('[data-testid="stCaptionContainer"]')) {
    const text = el.innerText.trim();
    if (text.startsWith('Pair ')) return text.split(/\\s+/)[1];
  }
  return null;
}"""
_CHANGED_JS = f"old => {{ const now = ({_PAIR_JS})(); return now !== null && now !== old; }}"
_LENGTHS_JS = """() => ['A', 'B'].map(s => {
  const box = document.querySelector('.st-key-response_' + s);
  return box ? box.innerText.length : 0;
})"""


def _curated(work: Path) -> Path:
    if HH.is_file():
        subprocess.run(
            [sys.executable, "-m", "prefdata", "filter", str(HH), "--out", str(work / "cur"), "-q"],
            check=True,
            cwd=ROOT,
        )
        return work / "cur" / "kept.parquet"
    import pyarrow.parquet as pq

    from tests.annotate_data import kept_table

    pq.write_table(kept_table(500), work / "kept.parquet")
    return work / "kept.parquet"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(
    command: list[str], env: dict[str, str], log: Path, cwd: Path
) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    command = [*command[:5], "--server.port", str(port), *command[5:]]
    # cwd matters: `python -m` puts it first on sys.path, ahead of PYTHONPATH.
    server = subprocess.Popen(
        command, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env, cwd=cwd
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return server, url
        except OSError:
            time.sleep(0.2)  # poll; bounded by the deadline
    server.kill()
    raise SystemExit(f"server did not start; see {log}")


def _annotate(
    who: str,
    url: str,
    *,
    labels: int,
    read_s: float,
    old: bool,
    barrier: threading.Barrier,
    samples: list[float],
    errors: list[str],
    stagger: int,
    alice_done: threading.Event,
) -> None:
    from playwright.sync_api import sync_playwright

    rng = random.Random(who)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        if old:
            page.get_by_label("Your name").fill(who)
            page.get_by_role("button", name="Start").click()
        else:
            page.get_by_role("textbox", name="Name").fill(who)
            page.get_by_role("textbox", name="Password").fill(PASSWORDS[who])
            page.get_by_role("button", name="Sign in").click()
        page.wait_for_function(f"() => ({_PAIR_JS})() !== null", timeout=60_000)
        page.get_by_text("Pair ", exact=False).first.click()  # focus the page, not an input
        barrier.wait()
        if who == "bob" and stagger:
            alice_done.wait(timeout=600)
        try:
            for done in range(labels):
                if who == "alice" and done == stagger:
                    alice_done.set()
                current = page.evaluate(_PAIR_JS)
                page.wait_for_timeout(read_s * 1000)  # the annotator reads the pair
                a_len, b_len = page.evaluate(_LENGTHS_JS)
                pick = "a" if a_len >= b_len else "b"
                if rng.random() < FLIP[who]:
                    pick = "b" if pick == "a" else "a"
                start = time.perf_counter()
                page.keyboard.press(pick)
                page.wait_for_function(_CHANGED_JS, arg=current, polling="raf", timeout=30_000)
                samples.append(time.perf_counter() - start)
        except Exception as exc:  # reported with the figures, not hidden
            errors.append(f"{who}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        alice_done.set()
        browser.close()


def _run(
    name: str,
    command: list[str],
    env: dict[str, str],
    db: Path,
    work: Path,
    args: Any,
    *,
    old: bool,
) -> dict[str, Any]:
    cwd = Path(env.get("PYTHONPATH", str(ROOT)).split(os.pathsep)[0])
    server, url = _serve(command, env, work / f"{name}.log", cwd)
    samples: dict[str, list[float]] = {who: [] for who in PASSWORDS}
    errors: list[str] = []
    barrier = threading.Barrier(len(PASSWORDS))
    alice_done = threading.Event()
    threads = [
        threading.Thread(
            target=_annotate,
            args=(who, url),
            kwargs={
                "labels": args.labels,
                "read_s": args.read_s,
                "old": old,
                "barrier": barrier,
                "samples": samples[who],
                "errors": errors,
                "stagger": args.stagger,
                "alice_done": alice_done,
            },
        )
        for who in PASSWORDS
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.terminate()
        server.wait(timeout=20)
    every = sorted(s for values in samples.values() for s in values)
    store = LabelStore(db, read_only=True)
    report = agreement_report(store)
    p95 = every[min(len(every) - 1, int(len(every) * 0.95))] if every else float("nan")
    return {
        "name": name,
        "n": len(every),
        "p50": statistics.median(every) if every else float("nan"),
        "p95": p95,
        "errors": errors,
        "report": report,
    }


def _print(result: dict[str, Any]) -> None:
    report = result["report"]
    print(
        f"{result['name']:<10} label -> next pair visible: p50 {result['p50'] * 1000:6.0f} ms"
        f"   p95 {result['p95'] * 1000:6.0f} ms   (n={result['n']})"
    )
    kappa = ", ".join(f"{k} {v:.2f}" for k, v in report.cohen_kappa.items() if v is not None)
    print(
        f"{'':<10} votes {report.n_votes}, pairs with 2 votes {report.n_items_overlapping},"
        f" raw agreement {report.raw_agreement}, Cohen's kappa [{kappa}],"
        f" Krippendorff's alpha {report.krippendorff_alpha}"
    )
    for error in result["errors"]:
        print(f"{'':<10} error: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=20)
    parser.add_argument("--overlap", type=int, default=2)
    parser.add_argument("--read-s", type=float, default=0.5)
    parser.add_argument("--baseline", help="git commit of the app to compare against")
    parser.add_argument(
        "--stagger",
        type=int,
        default=0,
        help="bob starts once alice has labelled this many pairs (0: together)",
    )
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not installed (make browser)")
    from prefdata.annotate.app_launch import AppSettings, app_environment, streamlit_command
    from prefdata.annotate.pair_import import import_parquet

    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        data = _curated(work)
        results = []
        if args.baseline:
            old_root = work / "old"
            old_root.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.baseline, "app", "prefdata"],
                cwd=ROOT,
                check=True,
                capture_output=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(old_root)], input=archive, check=True)
            old_db = work / "old.sqlite"
            env = {**os.environ, "PYTHONPATH": str(old_root)}
            probe = "import prefdata, sys; sys.stdout.write(prefdata.__file__)"
            found = subprocess.run(
                [sys.executable, "-c", probe], env=env, cwd=old_root, capture_output=True, text=True
            ).stdout
            if not found.startswith(str(old_root)):
                raise SystemExit(f"the baseline would import {found}, not {old_root}")
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import sys; from prefdata.annotate.label_store import"
                    " LabelStore; from prefdata.annotate.pair_import import import_parquet;"
                    " import_parquet(LabelStore(sys.argv[1]), sys.argv[2])",
                    str(old_db),
                    str(data),
                ],
                env=env,
                cwd=old_root,
                check=True,
            )
            command = [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(old_root / "app" / "streamlit_app.py"),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
                "--",
                "--db",
                str(old_db),
                "--overlap",
                str(args.overlap),
            ]
            results.append(_run(args.baseline[:7], command, env, old_db, work, args, old=True))
        db = work / "new.sqlite"
        store = LabelStore(db)
        import_parquet(store, data)
        for who, password in PASSWORDS.items():
            add_user(store, who, role="annotator", password=password)
        command = streamlit_command(
            AppSettings(db=db, overlap=args.overlap), address="127.0.0.1", port=None
        )
        results.append(_run("this tree", command, app_environment(), db, work, args, old=False))

    together = f"(bob after alice's {args.stagger})" if args.stagger else "at once"
    print(
        f"{args.labels} labels each, two annotators {together}, --overlap {args.overlap};"
        f" {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    for result in results:
        _print(result)
    if len(results) == 2 and results[0]["n"] and results[1]["n"]:
        old, new = results
        print(
            f"ratio this tree / {old['name']}: p50 {new['p50'] / old['p50']:.2f}x,"
            f" p95 {new['p95'] / old['p95']:.2f}x"
        )


if __name__ == "__main__":
    main()

"""Peak memory of evaluate's log-prob pass: the old full-vocabulary fp32 log-softmax
against the response-only, chunked gather (prefdata.train.logprobs). Each runs in its own
process and reports its peak RSS; prints both and their ratio, asserts nothing.

    python tests/benchmarks/bench_evaluate_memory.py [--vocab 32000] [--batch 16]

A random 2-layer Llama with a large vocabulary makes the logits dominate, as they do for
real models (a 150k vocabulary at 2,048 tokens is ~1.2 GB per sequence in fp32).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys


def child(method: str, vocab: int, batch: int, prompt: int, response: int) -> None:
    import torch
    import transformers

    from prefdata.train.logprobs import Sequence, response_logps

    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=prompt + response,
    )  # fmt: skip
    model = transformers.LlamaForCausalLM(config).eval()
    ids = torch.randint(3, vocab, (batch, prompt + response)).tolist()
    sequences = [Sequence(row, prompt) for row in ids]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if method == "chunked":
        values, _ = response_logps(model, sequences, 0)
    else:  # what evaluate did before: every position, every vocabulary entry, in fp32
        input_ids = torch.tensor(ids)
        with torch.no_grad():
            logits = model(input_ids=input_ids).logits
            logps = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            token = logps.gather(-1, input_ids[:, 1:, None]).squeeze(-1)
            values = token[:, prompt - 1 :].sum(dim=1).tolist()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kib": before, "peak_kib": peak, "first": values[0]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--prompt", type=int, default=384)
    parser.add_argument("--response", type=int, default=128)
    parser.add_argument("--child", choices=["full", "chunked"])
    args = parser.parse_args()
    shape = (args.vocab, args.batch, args.prompt, args.response)
    if args.child:
        child(args.child, *shape)
        return
    results = {}
    for method in ("full", "chunked"):
        command = [sys.executable, __file__, "--child", method]
        command += ["--vocab", str(args.vocab), "--batch", str(args.batch)]
        command += ["--prompt", str(args.prompt), "--response", str(args.response)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results[method] = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"vocab {args.vocab}, {args.batch} sequences of {args.prompt} prompt + "
        f"{args.response} response tokens"
    )
    for method, figures in results.items():
        grown = (figures["peak_kib"] - figures["before_kib"]) / 1024
        print(
            f"{method:>8}: peak RSS {figures['peak_kib'] / 1024:8.0f} MiB (+{grown:.0f} MiB in the pass)"
        )
    full, chunked = (results[m]["peak_kib"] - results[m]["before_kib"] for m in ("full", "chunked"))
    print(f"growth ratio chunked/full: {chunked / max(full, 1):.3f}")
    same = abs(results["full"]["first"] - results["chunked"]["first"]) < 1e-3
    print(f"same log-prob for the first sequence: {same}")


if __name__ == "__main__":
    main()

"""Sample k completions per prompt from the current policy.

The default is transformers' ``generate`` in batches with left padding (decoder-only
models must see the prompt's last token at the right edge). On a GPU machine vLLM is
much faster: ``generator: vllm`` in the recipe uses it when installed (not required).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from prefdata.errors import InputError, require
from prefdata.iterate.prompts import Prompt
from prefdata.train.hardware import release_accelerator_memory
from prefdata.train.preflight import check_model_folder, load_tokenizer


@dataclass(frozen=True)
class SamplingSettings:
    samples_per_prompt: int
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int
    batch_size: int = 8


def prompt_text(tokenizer: Any, prompt: Prompt) -> str:
    """What the model continues: a text prompt as is (as TRL trains on it), a conversation
    rendered by the chat template with the assistant turn opened."""
    if isinstance(prompt, str):
        return prompt
    if not getattr(tokenizer, "chat_template", None):
        raise InputError("conversational prompts need a tokenizer with a chat_template")
    return str(tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True))


def sample(
    model_dir: str,
    prompts: list[Prompt],
    settings: SamplingSettings,
    *,
    generator: str,
    vllm_options: dict[str, Any] | None = None,
) -> list[list[str]]:
    """``samples_per_prompt`` completions (text, special tokens removed) for each prompt."""
    check_model_folder(model_dir)
    if generator == "vllm":
        return _sample_vllm(model_dir, prompts, settings, vllm_options or {})
    return _sample_transformers(model_dir, prompts, settings)


def _sample_transformers(
    model_dir: str, prompts: list[Prompt], settings: SamplingSettings
) -> list[list[str]]:
    torch = require("torch", "train")
    transformers = require("transformers", "train")
    tokenizer = load_tokenizer(model_dir)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    model = model.to(device).eval()
    torch.manual_seed(settings.seed)  # one seed per round: reruns sample the same texts
    k = settings.samples_per_prompt
    texts = [prompt_text(tokenizer, p) for p in prompts]
    text = isinstance(prompts[0], str)
    out: list[list[str]] = []
    for start in range(0, len(texts), settings.batch_size):
        batch = texts[start : start + settings.batch_size]
        # as TRL tokenises prompts for training: text with the tokenizer's special tokens
        # (a BOS), a rendered chat template without (it already holds any BOS)
        encoded = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=text)
        encoded = {name: tensor.to(device) for name, tensor in encoded.items()}
        with torch.no_grad():
            generated = model.generate(
                **encoded,
                do_sample=True,
                temperature=settings.temperature,
                top_p=settings.top_p,
                max_new_tokens=settings.max_new_tokens,
                num_return_sequences=k,
                pad_token_id=tokenizer.pad_token_id,
            )
        new_tokens = generated[:, encoded["input_ids"].shape[1] :]
        decoded = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        out += [decoded[i * k : (i + 1) * k] for i in range(len(batch))]
    del model, generated
    release_accelerator_memory()  # the scorer and the round's training come next
    return out


def _sample_vllm(
    model_dir: str, prompts: list[Prompt], settings: SamplingSettings, options: dict[str, Any]
) -> list[list[str]]:
    """vLLM in a child process: ``del llm`` and ``empty_cache()`` do not give vLLM's
    reserved GPU memory back (vLLM users report it), but a process exit does, so the
    round's training finds the GPU empty."""
    if importlib.util.find_spec("vllm") is None:
        require("vllm", "vllm")  # raises with the extra to install
    tokenizer = load_tokenizer(model_dir)
    # token ids, not strings: vLLM would add a BOS to a rendered chat template that has one
    text = isinstance(prompts[0], str)
    token_prompts = [
        tokenizer(prompt_text(tokenizer, p), add_special_tokens=text)["input_ids"] for p in prompts
    ]
    context = multiprocessing.get_context("spawn")  # a forked CUDA context is unusable
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(vllm_worker, model_dir, token_prompts, settings, options)
        texts: list[list[str]] = future.result()
    return texts


def vllm_worker(
    model_dir: str,
    token_prompts: list[list[int]],
    settings: SamplingSettings,
    options: dict[str, Any],
) -> list[list[str]]:
    """Runs in the child process: load, sample, return plain texts."""
    vllm = require("vllm", "vllm")
    llm = vllm.LLM(model=model_dir, seed=settings.seed, **options)
    params = vllm.SamplingParams(
        n=settings.samples_per_prompt,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_tokens=settings.max_new_tokens,
        seed=settings.seed,
    )
    results = llm.generate([{"prompt_token_ids": ids} for ids in token_prompts], params)
    return [[choice.text for choice in result.outputs] for result in results]

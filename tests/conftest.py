"""Shared fixtures. Nothing here reaches a model or dataset hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO / "sample_data"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def sample_data() -> Path:
    return SAMPLE_DATA


def shared_file(relative: str) -> Path:
    """A file of ../shared/data, or skip the test when it is absent (fresh clones)."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} not present (../shared/data is optional)")
    return path


@pytest.fixture(autouse=True)
def _restore_main_module():  # type: ignore[no-untyped-def]
    """Streamlit's script runner (AppTest) installs its own ``__main__`` and keeps it;
    worker processes started with ``spawn`` would then re-import the app script."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


# A chat template whose prompt, rendered alone with the generation prompt, is a prefix
# of the whole conversation (as a good template's is).
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def train_tiny_tokenizer(folder: Path, chat_template: str = CHAT_TEMPLATE) -> Path:
    """A small byte-level BPE trained offline, saved as a Hugging Face tokenizer folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [
        "the quick brown fox jumps over the lazy dog",
        "hello world, how are you today? I am fine, thank you.",
        "Preheat the oven and roast the vegetables for twenty minutes.",
        "Direct preference optimization trains a policy from preference pairs.",
    ] * 50
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<unk>", "<s>", "</s>", "<|end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    fast.chat_template = chat_template
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.fixture(scope="session")
def ray_local():  # type: ignore[no-untyped-def]
    """A local 2-CPU Ray instance shared by the session's Ray tests (start-up is seconds)."""
    ray = pytest.importorskip("ray")
    from prefdata.engines.ray_engine import init_ray

    started = init_ray(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()

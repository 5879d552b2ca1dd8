"""PPO's verifiable task rewards, keyed by prompt source.

A task reward scores one reply to one prompt: ``reward(prompt, text, finished) -> float | None``,
a score in [0, 1], or None when the prompt carries no reference for it (then only the reward model
scores the reply). `finished` is False for a reply cut off by ``max_new_tokens``. The task logic
lives in the task's package (``tasks/<task>/reward.py``), shared with ``icegrt rank --by scorer``:

    ad_compliance      :func:`tasks.ad_compliance.reward.judgement_reward`: F1 of the grounded policy
                       ids of the reply's JSON judgement against the ad's labels (``prompt.gold``,
                       the :class:`~tasks.ad_compliance.data.LabelledAd`)
    ad_compliance_compact
                       :func:`tasks.ad_compliance.reward.compact_reward`: 0 unless the ad-level
                       verdict is right (flagged exactly when the ad breaks a policy); then 0.75
                       (the config's ``ad_verdict_floor``) plus the rest times the mean of that F1
                       and, for ads that break a policy, the score of the revision the reply's fixes
                       make (re-checked, offer kept, little else changed). With the config's
                       ``ad_reward: findings``, :func:`tasks.ad_compliance.reward.findings_reward`
                       instead: that quality alone for a reply that flags the ad, None (abstain)
                       for one that does not, so the verdict is left as it is
    e2e_text_to_table  :func:`tasks.text_to_table.reward.table_reward`: cell F1 of the reply's table
                       against the table of the example's E2E meaning representation (``prompt.gold``)
    gsm8k              1 when the reply's final answer (after ``####``, else its last number) equals
                       the reference solution's (``prompt.reference``), else 0

A reward made of parts also registers ``parts(prompt, text, finished) -> {name: float | None}`` in
:data:`TASK_REWARD_PARTS`, so each part is logged per step beside the source's score.

The PPO config weighs each with ``task_rewards: {source: weight}``. To add a reward (an ad
revision's, say): write its function, register it here under the prompt source whose prompts it
scores, and give that source a weight in ``task_rewards``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol


class Prompt(Protocol):
    """What a task reward reads of a prompt (:class:`training.ppo.prompts.Prompt` has it; a
    protocol here, since the PPO config, which the prompts import, checks names against this
    registry)."""

    gold: Any
    reference: str | None


TaskReward = Callable[[Prompt, str, bool], "float | None"]


def ad_compliance_reward(prompt: Prompt, text: str, finished: bool) -> float | None:
    from tasks.ad_compliance.reward import judgement_reward

    return None if prompt.gold is None else judgement_reward(text, prompt.gold, finished)


def ad_compliance_compact_reward(prompt: Prompt, text: str, finished: bool, verdict_floor: float | None = None) -> float | None:
    """`verdict_floor` None: the task's own :data:`~tasks.ad_compliance.reward.VERDICT_FLOOR`."""
    from tasks.ad_compliance.reward import VERDICT_FLOOR, compact_reward

    floor = VERDICT_FLOOR if verdict_floor is None else verdict_floor
    return None if prompt.gold is None else compact_reward(text, prompt.gold, finished, floor)


def ad_compliance_findings_reward(prompt: Prompt, text: str, finished: bool) -> float | None:
    from tasks.ad_compliance.reward import findings_reward

    return None if prompt.gold is None else findings_reward(text, prompt.gold, finished)


def ad_compliance_compact_parts(prompt: Prompt, text: str, finished: bool) -> dict[str, float | None]:
    from tasks.ad_compliance.reward import compact_reward_parts

    return {} if prompt.gold is None else compact_reward_parts(text, prompt.gold, finished)


def table_reward(prompt: Prompt, text: str, finished: bool) -> float | None:
    from tasks.text_to_table.reward import table_reward as cell_f1

    return None if prompt.gold is None else cell_f1(text, prompt.gold)


def gsm8k_answer_reward(text: str, reference: str) -> float | None:
    """1.0 when the final answer of `text` equals the one after ``####`` in `reference`, else 0.0;
    None when the reference has no ``#### answer``."""
    from training.evaluate.general.metrics import INVALID, exact_match, flexible_answer, strict_answer

    answer = strict_answer(reference)
    if answer == INVALID:
        return None
    predicted = strict_answer(text)
    if predicted == INVALID:
        predicted = flexible_answer(text)
    return 1.0 if predicted != INVALID and exact_match(predicted, answer) else 0.0


def gsm8k_reward(prompt: Prompt, text: str, finished: bool) -> float | None:
    return None if prompt.reference is None else gsm8k_answer_reward(text, prompt.reference)


TASK_REWARDS: dict[str, TaskReward] = {
    "ad_compliance": ad_compliance_reward,
    "ad_compliance_compact": ad_compliance_compact_reward,
    "e2e_text_to_table": table_reward,
    "gsm8k": gsm8k_reward,
}
"""prompt source -> its task reward."""

def configured_task_rewards(ad_verdict_floor: float, ad_reward: str = "verdict") -> dict[str, TaskReward]:
    """:data:`TASK_REWARDS` with a PPO config's settings for compact ads: ``ad_reward`` "verdict" (the
    verdict-gated :func:`tasks.ad_compliance.reward.compact_reward`, a right verdict earning at least
    ``ad_verdict_floor``) or "findings" (:func:`tasks.ad_compliance.reward.findings_reward`)."""
    compact = (ad_compliance_findings_reward if ad_reward == "findings"
               else partial(ad_compliance_compact_reward, verdict_floor=ad_verdict_floor))
    return {**TASK_REWARDS, "ad_compliance_compact": compact}


TASK_REWARD_PARTS: dict[str, Callable[[Prompt, str, bool], "dict[str, float | None]"]] = {
    "ad_compliance_compact": ad_compliance_compact_parts,
}
"""prompt source -> the named parts of its task reward, logged per step (sources whose reward has parts)."""

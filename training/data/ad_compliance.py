"""The project's ad-compliance train split as SFT conversations (the judgement task).

Ads and labels come from :func:`tasks.ad_compliance.data.generate_dataset` (seed
:data:`AD_SEED`, its default sizes, split ``train``); the prompt is the task's own
:func:`~tasks.ad_compliance.prompt.judgement_messages`, so training and serving see the same
text, and the target is the task's perfect answer for the ad's labels
(:func:`tasks.ad_compliance.targets.judgement_target`).

The judgement prompt carries the whole policy catalogue (about 1,900 tokens with SmolLM2's
tokenizer), so these examples need ``max_seq_len`` of about 2,300; shorter limits drop them.
"""

from __future__ import annotations

from training.data.conversation import Conversation

AD_SEED = 0


def load_ad_compliance() -> list[Conversation]:
    from tasks.ad_compliance.data import generate_dataset
    from tasks.ad_compliance.prompt import judgement_messages
    from tasks.ad_compliance.targets import judgement_target

    conversations = []
    for record in generate_dataset(seed=AD_SEED):
        if record.split != "train":
            continue
        messages = (*judgement_messages(record.ad), {"role": "assistant", "content": judgement_target(record)})
        conversations.append(Conversation(messages, "ad_compliance", record.id))
    return conversations

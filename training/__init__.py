"""Training for ICE-GRT (arXiv 2401.02072): SFT (ICE-Instruct), reward model (ICE-Reward), PPO.

Modules (this ``__init__`` imports nothing; torch and transformers load inside functions):
    config    typed stage configs (YAML keys and CLI flags from one definition)
    commands  ``icegrt train sft|reward`` (``add_train_parser``)
    sft       ICE-Instruct: data mix, assistant-only loss
    reward    ICE-Reward: scalar head, Bradley-Terry loss, reward_stats.json
    loop      the shared optimization loop (accumulation, schedule, guard, eval, checkpoints)
    runs      run directories: config.yaml, metrics.jsonl, plots, atomic checkpoints, resume
    models    checkpoint kinds, loading, LoRA, saving servable checkpoints
    data/     loaders: SFT sources and mix, preference pairs, chat-template tokenization
    ppo/      PPO math, KL controllers, reward scaling
"""

"""PPO for ICE-GRT (arXiv 2401.02072): math, KL control, reward scaling, rollout and trainer.

Modules:
    math            pure tensor functions (masked statistics, per-token KL, token rewards,
                    GAE, advantage whitening, clipped policy and value losses, log-probs, entropy)
    kl              KL-coefficient controllers (fixed, adaptive as in Ziegler et al. 2019)
    reward_scaling  reward-model score scaling modes and their running statistics
    config          PPOConfig: every setting, each paper factor a switch (``icegrt train ppo --help``)
    prompts         PPO prompts from ICE-Instruct's own data sources, or a preference set
    rollout         the Rollout interface, its Hugging Face ``generate`` implementation, and the
                    layouts that line rollout data up with the training model's positions
    rewards         reward-model and task scores, missing-EOS penalty and reward size scaling
    policy          the four models (actor, reference, critic, reward) and their forward passes
    trainer         ``run_ppo`` and PPOTrainer: the PPO step in numbered phases, checkpoints, resume
"""

"""PPO for ICE-GRT (arXiv 2401.02072): math, KL control, reward scaling, rollout and trainer.

Modules:
    math            pure tensor functions (masked statistics, per-token KL, token rewards,
                    GAE, advantage whitening, clipped policy and value losses, log-probs, entropy)
    kl              KL-coefficient controllers (fixed, adaptive as in Ziegler et al. 2019)
    reward_scaling  reward-model score scaling modes and their running statistics
"""

"""Training benchmarks: the project's SFT, reward model and PPO step side by side with TRL's trainers
(sft_vs_trl.py, rm_vs_trl.py, ppo_vs_trl.py), the matmul peak."""

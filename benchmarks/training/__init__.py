"""Training benchmarks: the project's SFT side by side with TRL's SFTTrainer (sft_vs_trl.py), the matmul peak."""

"""Multi-turn chat: history trimming to the context window (``history``), prompt rendering and
token counting with the model's own chat template (``template``), and the MT-Bench / Vicuna-Bench
question sets (``benchmarks``).
"""

"""``icegrt ablate``: the paper's PPO ablations, each variant its own run from one base config.

Modules:
    variants  the variants and the PPO settings each changes (the paper's factors)
    config    AblationConfig: base PPO config, shared overrides, variants, evaluation
    summary   per-variant figures from metrics.jsonl, the Markdown table and the overlaid curves
    runner    train each variant (resumable, divergence recorded), evaluate, write results/<name>/
    commands  the command line
"""

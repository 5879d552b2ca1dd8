"""General benchmarks (``icegrt eval general``): the 12 tasks of ``shared/data/benchmarks``.

Modules, one concern each: ``tasks`` (loaders and lm-evaluation-harness prompt formats),
``tokenization`` (the context/continuation split both backends share), ``vllm_backend`` and
``hf_backend`` (scoring), ``metrics`` (accuracy, standard error, GSM8K answer matching),
``evaluate`` (requests in, per-task scores out) and ``command`` (the CLI).
"""

"""Methods added to vLLM's workers (``worker_extension_cls``) for PPO's weight sync.

This module is imported inside vLLM's worker processes; it must stay free of training imports.
"""

from __future__ import annotations


class ActorWeightsExtension:
    """``llm.collective_rpc("icegrt_load_weights", args=(path,))`` loads a checkpoint in place."""

    def icegrt_load_weights(self, path: str) -> None:
        """Reload every weight from the Hugging Face checkpoint in `path` (vLLM's in-place reload).

        On CPU, vLLM 0.32 packs a copy of the (tied) embedding matrix for the output layer when
        the model loads; the in-place reload leaves that packed copy stale, so the logits would
        still come from the old embeddings. The packing is redone here from the reloaded weights.
        """
        from vllm.model_executor.layers.vocab_parallel_embedding import VocabParallelEmbedding
        from vllm.platforms import current_platform

        self.reload_weights(weights_path=path, is_checkpoint_format=True)
        if current_platform.is_cpu():
            for module in self.model_runner.get_model().modules():
                if isinstance(module, VocabParallelEmbedding):
                    module.quant_method.process_weights_after_loading(module)

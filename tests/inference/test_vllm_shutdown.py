"""`VllmEngine.shutdown` stops reading outputs before it stops the engine core, so a clean
shutdown logs no ``EngineDeadError`` traceback (vLLM's own order is core first, reader after)."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

from inference.vllm_engine import VllmEngine


class FakeAsyncLLM:
    """Its output reader fails, as vLLM's does, when it is still running once the core is stopped."""

    def __init__(self):
        self.tokenizer = None
        self.model_config = SimpleNamespace(max_model_len=64, get_diff_sampling_param=lambda: {})
        self.core_stopped = threading.Event()
        self.reader_saw_dead_core = False
        self.output_handler = asyncio.get_running_loop().create_task(self._read())

    async def _read(self):
        while True:
            if self.core_stopped.is_set():
                self.reader_saw_dead_core = True
                return
            await asyncio.sleep(0.001)

    def shutdown(self):
        self.core_stopped.set()
        threading.Event().wait(0.05)  # the core's exit takes a moment; the loop runs on meanwhile


def test_shutdown_cancels_the_output_reader_before_stopping_the_core():
    async def run():
        llm = FakeAsyncLLM()
        engine = VllmEngine(llm, ("fake",))
        await engine.shutdown()
        return llm

    llm = asyncio.run(run())
    assert llm.core_stopped.is_set()
    assert llm.output_handler.cancelled()
    assert not llm.reader_saw_dead_core

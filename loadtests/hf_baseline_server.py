"""A plain Hugging Face transformers server: the baseline a user would otherwise write.

    .venv/bin/python -m loadtests.hf_baseline_server --model DIR --port 8002

A minimal OpenAI-compatible ``POST /v1/chat/completions`` (``stream`` through
`TextIteratorStreamer` and ``model.generate`` in a thread, ``stream_options.include_usage``),
``GET /v1/models`` and ``GET /health``. One request generates at a time behind a lock,
as in most hand-written servers: no batching, no paged KV cache. A client that leaves
stops its generation at the next token. The streamer sends whole words, so a chunk may
hold several tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid

import torch
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)


class StopWhenSet(StoppingCriteria):
    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> bool:
        return self.event.is_set()


def build_app(model_dir: str, served_name: str, dtype: str) -> FastAPI:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype)).to(device).eval()
    lock = asyncio.Lock()
    app = FastAPI()

    def prepare(body: dict) -> tuple[dict, dict]:
        text = tokenizer.apply_chat_template(body["messages"], tokenize=False, add_generation_prompt=True)
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(device)
        temperature = float(body.get("temperature", 1.0))
        options = {"max_new_tokens": body.get("max_completion_tokens") or body.get("max_tokens") or 256,
                   "do_sample": temperature > 0, "pad_token_id": tokenizer.eos_token_id}
        if temperature > 0:
            options.update(temperature=temperature, top_p=float(body.get("top_p", 1.0)))
        return inputs, options

    def usage(inputs: dict, output_ids: torch.Tensor) -> dict:
        prompt = inputs["input_ids"].shape[1]
        completion = output_ids.shape[1] - prompt
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def finish_reason(options: dict, counts: dict) -> str:
        return "length" if counts["completion_tokens"] >= options["max_new_tokens"] else "stop"

    def chunk(request_id: str, delta: dict, finish: str | None = None) -> str:
        payload = {"id": request_id, "object": "chat.completion.chunk", "created": int(time.time()),
                   "model": served_name, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(payload)}\n\n"

    async def stream(body: dict, inputs: dict, options: dict, request_id: str):
        async with lock:
            stop = threading.Event()
            streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
            result: dict = {}

            def run() -> None:
                try:
                    result["ids"] = model.generate(**inputs, **options, streamer=streamer,
                                                   stopping_criteria=StoppingCriteriaList([StopWhenSet(stop)]))
                except BaseException:
                    streamer.end()
                    raise

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            try:
                while (text := await asyncio.to_thread(next, streamer, None)) is not None:
                    if text:
                        yield chunk(request_id, {"content": text})
                await asyncio.to_thread(thread.join)
            finally:
                stop.set()
            if "ids" not in result:
                yield 'data: {"error": {"message": "generation failed", "type": "internal_error"}}\n\n'
                return
            yield chunk(request_id, {}, finish_reason(options, usage(inputs, result["ids"])))
            if (body.get("stream_options") or {}).get("include_usage"):
                tail = {"id": request_id, "object": "chat.completion.chunk", "model": served_name, "choices": [],
                        "usage": usage(inputs, result["ids"])}
                yield f"data: {json.dumps(tail)}\n\n"
            yield "data: [DONE]\n\n"

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": served_name, "object": "model", "owned_by": "hf-baseline"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        inputs, options = prepare(body)
        request_id = f"chatcmpl-{uuid.uuid4().hex}"
        if body.get("stream"):
            return StreamingResponse(stream(body, inputs, options, request_id), media_type="text/event-stream")
        async with lock:
            output_ids = await asyncio.to_thread(model.generate, **inputs, **options)
        text = tokenizer.decode(output_ids[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        counts = usage(inputs, output_ids)
        return {"id": request_id, "object": "chat.completion", "created": int(time.time()), "model": served_name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": finish_reason(options, counts)}],
                "usage": counts}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="Hugging Face checkpoint directory")
    parser.add_argument("--served-model-name", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    args = parser.parse_args()
    app = build_app(args.model, args.served_model_name or args.model.rstrip("/").split("/")[-1], args.dtype)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

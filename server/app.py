"""build_app(): the FastAPI application around one engine.

The engine loads in the background after the app starts, so ``/health`` answers at once
and ``/ready`` turns 200 when the engine can serve; requests before that get 503 with
Retry-After. If loading fails, `on_load_failure` is told (the CLI then exits non-zero).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from common.errors import UserError
from common.task_formats import ad_compliance_format
from inference.config import CpuTuning, EngineConfig
from inference.engine import Engine
from server.errors import install_error_handlers
from server.limits import Limiter
from server.middleware import RequestMiddleware
from server.ads.routes import router as ads_router
from server.conversations.quotas import sweep_expired
from server.conversations.routes import router as conversations_router
from server.feedback.routes import router as feedback_router
from server.openai.routes import router as openai_router
from server.openai.tools import ToolCalling, check_tool_settings
from server.settings import ServerSettings
from server.state import ServerState
from server.store import Store, store_url
from server.system_routes import router as system_router
from server.tables.routes import router as tables_router
from server.tenancy import check_exposure, load_keys

log = logging.getLogger(__name__)

EngineFactory = Callable[[ServerSettings, Path, tuple[str, ...]], Awaitable[Engine]]
ENDPOINT_FAMILIES = (system_router, openai_router, ads_router, tables_router, conversations_router, feedback_router)
"""Every family's router (``<family>/routes.py``), included in this order at startup; a route that
runs the model says so with ``openapi_extra=server.limits.GENERATES``."""


def engine_config(settings: ServerSettings, model_path: Path, served_names: tuple[str, ...]) -> EngineConfig:
    """The engine `settings` ask for (the server's ``ICEGRT_*`` settings end here)."""
    return EngineConfig(
        model=Path(model_path), served_names=served_names, dtype=settings.dtype, max_model_len=settings.max_model_len,
        enforce_eager=settings.enforce_eager, seed=settings.seed, max_num_seqs=settings.max_num_seqs,
        kv_cache_space=settings.kv_cache_space, gpu_memory_utilization=settings.gpu_memory_utilization,
        tensor_parallel_size=settings.tensor_parallel_size, pipeline_parallel_size=settings.pipeline_parallel_size,
        data_parallel_size=settings.data_parallel_size,
        distributed_executor_backend=settings.distributed_executor_backend,
        data_parallel_backend=settings.data_parallel_backend,
        cpu_tuning=CpuTuning(preload_tcmalloc=settings.cpu_preload_tcmalloc, preload_iomp=settings.cpu_preload_iomp,
                             threads_bind=settings.cpu_threads_bind, reserved_cpus=settings.cpu_reserved_cpus,
                             engine_poll_us=settings.cpu_engine_poll_us),
        chat_template=settings.chat_template, lora_modules=tuple((m.name, m.path) for m in settings.lora_modules),
        engine_overrides=dict(settings.engine_args),
    )


async def _vllm_factory(settings: ServerSettings, model_path: Path, served_names: tuple[str, ...]) -> Engine:
    from inference.vllm_engine import VllmEngine  # imports vLLM: only where the real engine is wanted

    return await VllmEngine.start(engine_config(settings, model_path, served_names))


async def _load_engine(state: ServerState, factory: EngineFactory, on_failure: Callable[[BaseException], None]):
    try:
        engine = await factory(state.settings, state.model_path, state.served_names)
        try:  # vLLM checks the tool parser against the model's tokenizer
            state.tool_calling = await asyncio.to_thread(ToolCalling.from_settings, state.settings, engine.tokenizer)
        except Exception:
            await engine.shutdown()
            raise
        state.engine = engine
        log.info("engine ready: serving %s as %s", state.model_path, " or ".join(map(repr, state.served_names)))
    except Exception as exc:
        state.load_error = f"{type(exc).__name__}: {exc}"
        log.exception("engine failed to load")
        on_failure(exc)


def default_served_name(model_path: Path) -> str:
    """The directory's name; for a training run's ``runs/<name>/checkpoint``, the run's name."""
    return model_path.parent.name if model_path.name == "checkpoint" else model_path.name


def build_app(
    settings: ServerSettings,
    model_path: Path,
    *,
    engine_factory: EngineFactory = _vllm_factory,
    on_load_failure: Callable[[BaseException], None] = lambda exc: None,
) -> FastAPI:
    """The app; raises `server.tenancy.AuthSettingsError` for unusable API-key settings, `UserError` for
    LoRA adapters named like the model or each other, or an unknown tool parser."""
    keys = load_keys(settings.api_key, settings.api_key_file)
    check_exposure(keys, settings.host, settings.allow_unauthenticated)
    log.info("auth: %s; /metrics is %s", f"{len(keys)} API keys loaded ({sum(k.principal.admin for k in keys)} admin)"
             if keys else "no API keys, every client is served", "protected" if keys and settings.metrics_require_auth
             else "open")
    served_names = tuple(settings.served_model_name) or (default_served_name(Path(model_path)),)
    clashes = sorted({m.name for m in settings.lora_modules} & set(served_names))
    if clashes or len({m.name for m in settings.lora_modules}) < len(settings.lora_modules):
        raise UserError(f"each LoRA adapter needs a name of its own, not a served model's: {clashes}")
    check_tool_settings(settings.tool_call_parser, settings.tool_parser_plugin)
    formats = {name: ad_compliance_format(model_path) for name in served_names}
    formats.update({m.name: ad_compliance_format(m.path) for m in settings.lora_modules})
    state = ServerState(settings=settings, model_path=Path(model_path), served_names=served_names,
                        ad_task_formats=formats)
    limiter = Limiter.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.store = await asyncio.to_thread(Store.open, store_url(settings))  # a bad URL fails startup
        loader = asyncio.create_task(_load_engine(state, limiter.metered(engine_factory), on_load_failure))
        background = [loader]
        if settings.conversation_ttl is not None:
            background.append(asyncio.create_task(sweep_expired(app.state.store, settings.conversation_ttl)))
        yield
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if state.engine is not None:
            await state.engine.shutdown()
        app.state.store.close()

    app = FastAPI(title="ICE-GRT server", version="0.1.0", lifespan=lifespan)
    app.state.icegrt = state
    app.state.limiter = limiter
    install_error_handlers(app)
    for router in ENDPOINT_FAMILIES:
        app.include_router(router)
    limiter.control(app.routes)  # admission control for every route that declared it generates
    if settings.allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.allowed_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["X-Request-Id"])
    app.add_middleware(RequestMiddleware, api_keys=keys, max_body_bytes=settings.max_request_body_bytes,
                       metrics_require_auth=settings.metrics_require_auth, limiter=limiter,
                       body_timeout_s=settings.client_body_timeout)
    return app

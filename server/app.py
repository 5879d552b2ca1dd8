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

from common.task_formats import AD_COMPLIANCE, AD_COMPLIANCE_COMPACT, trained_on
from server.engine import Engine
from server.errors import install_error_handlers
from server.limits import Limiter
from server.middleware import RequestMiddleware
from server.ads.routes import router as ads_router
from server.conversations.routes import router as conversations_router
from server.feedback.routes import router as feedback_router
from server.openai.routes import router as openai_router
from server.settings import ServerSettings
from server.state import ServerState
from server.store import Store, store_url
from server.system_routes import router as system_router
from server.tables.routes import router as tables_router

log = logging.getLogger(__name__)

EngineFactory = Callable[[ServerSettings, Path, str], Awaitable[Engine]]


async def _vllm_factory(settings: ServerSettings, model_path: Path, served_name: str) -> Engine:
    from server.vllm_engine import VllmEngine  # imports vLLM: only where the real engine is wanted

    return await VllmEngine.start(settings, model_path, served_name)


async def _load_engine(state: ServerState, factory: EngineFactory, on_failure: Callable[[BaseException], None]):
    try:
        state.engine = await factory(state.settings, state.model_path, state.served_name)
        log.info("engine ready: serving %s as %r", state.model_path, state.served_name)
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
    served_name = settings.served_model_name or default_served_name(Path(model_path))
    compact = trained_on(model_path, AD_COMPLIANCE, AD_COMPLIANCE_COMPACT)
    state = ServerState(settings=settings, model_path=Path(model_path), served_name=served_name,
                        ad_task_format="compact" if compact else "catalogue")
    limiter = Limiter.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.store = await asyncio.to_thread(Store.open, store_url(settings))  # a bad URL fails startup
        loader = asyncio.create_task(_load_engine(state, limiter.metered(engine_factory), on_load_failure))
        yield
        loader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loader
        if state.engine is not None:
            await state.engine.shutdown()
        app.state.store.close()

    app = FastAPI(title="ICE-GRT server", version="0.1.0", lifespan=lifespan)
    app.state.icegrt = state
    app.state.limiter = limiter
    install_error_handlers(app)
    app.include_router(system_router)
    app.include_router(openai_router)
    app.include_router(ads_router)
    app.include_router(tables_router)
    app.include_router(conversations_router)
    app.include_router(feedback_router)
    if settings.allowed_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.allowed_origins, allow_methods=["*"],
                           allow_headers=["*"], expose_headers=["X-Request-Id"])
    app.add_middleware(RequestMiddleware, api_keys=settings.api_key, max_body_bytes=settings.max_request_body_bytes,
                       metrics_require_auth=settings.metrics_require_auth, limiter=limiter)
    return app

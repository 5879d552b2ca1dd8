"""OpenAI-compatible request and response models (pydantic only, no logic).

Validation lives here (bounds, literals, cross-field rules) so that a bad field is a 400
naming that field before any handler runs. Unknown fields are ignored, as vLLM and the
OpenAI API do, so newer SDKs keep working; a known OpenAI field this server does not
implement (the legacy ``functions``/``function_call``, ``suffix``) is refused with a 400 naming
it rather than dropped. Tool calling (``tools``, ``tool_choice``, ``parallel_tool_calls``, tool
results and assistant tool calls in ``messages``) is validated here with vLLM's rules and served
by `server.openai.tools`.
A rule over several fields that names one of them raises `field_error` (its ``param``
becomes the error's ``param``: ``server.errors.validation_error``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from inference.engine import GenerationParams

MAX_N = 16
MODEL_DEFAULTED_FIELDS = ("temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty",
                          "repetition_penalty")
"""Sampling fields whose default is the model's own when its generation_config sets one."""
MAX_STOP = 8
MAX_PROMPTS = 1024
"""Prompts in one text completion request (vLLM's default ``VLLM_MAX_COMPLETION_PROMPTS``)."""
MAX_LOGIT_BIAS = 100.0
LEGACY_FUNCTIONS = "the legacy functions API is not supported (vLLM ignores it): use tools and tool_choice"


def field_error(param: str, message: str) -> PydanticCustomError:
    """A validation error about `param`, raised by a rule that sees the whole request."""
    return PydanticCustomError("invalid_value", message, {"param": param})


def _invalid(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_value", message)


def _refuse_when_set(value: Any, info: ValidationInfo) -> Any:
    """A field validator for the legacy functions API's fields: null is fine, anything else a 400."""
    if value is not None:
        raise _invalid(f"{LEGACY_FUNCTIONS}; leave {info.field_name} out (or null)")
    return value


def _parse_logit_bias(value: Any) -> dict[int, float] | None:
    """OpenAI's ``{"token id": bias}`` as token id -> bias, every key and value checked."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid('logit_bias must be an object mapping token ids to biases, e.g. {"50256": -100}')
    out: dict[int, float] = {}
    for key, bias in value.items():
        if not (isinstance(key, str) and key.isascii() and key.isdigit()):
            raise _invalid(f"logit_bias keys must be token ids (non-negative integers as strings); got {key!r}")
        if isinstance(bias, bool) or not isinstance(bias, (int, float)) or not -MAX_LOGIT_BIAS <= bias <= MAX_LOGIT_BIAS:
            raise _invalid(f"logit_bias values must be numbers from -100 to 100; got {bias!r} for token {key}")
        out[int(key)] = float(bias)
    return out


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class FunctionDefinition(BaseModel):
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    """The arguments' JSON schema; none means any JSON object."""
    strict: bool | None = None
    """True: constrained decoding holds the arguments to `parameters` wherever a tool-call grammar
    applies (vLLM's per-tool strictness, see ``--tool-strict-level``)."""


class Tool(BaseModel):
    type: Literal["function"]
    function: FunctionDefinition

    def template_dict(self) -> dict[str, Any]:
        """The tool as chat templates get it (vLLM's ``tools=``): `strict` only when set."""
        return {"type": "function", "function": self.function.model_dump(exclude={"strict"} if self.function.strict
                                                                         is None else set())}


class NamedFunction(BaseModel):
    name: str = Field(min_length=1)


class NamedToolChoice(BaseModel):
    type: Literal["function"] = "function"
    function: NamedFunction


class FunctionCall(BaseModel):
    name: str
    arguments: str
    """The arguments as JSON text, as OpenAI sends and expects them."""


class ToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class InputToolCall(BaseModel):
    """A tool call of an earlier assistant turn, sent back in `messages` (every field required, as in
    OpenAI's and vLLM's request schemas)."""

    id: str
    type: Literal["function"]
    function: FunctionCall


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "developer", "tool", "function"]
    content: str | Annotated[list[TextPart], Field(min_length=1)] | None = None
    name: str | None = None
    tool_calls: list[InputToolCall] | None = None
    """On an assistant message: the calls it made (its content may then be null)."""
    tool_call_id: str | None = None
    """On a tool message: the id of the call whose result it carries."""
    function_call: Any = None

    @field_validator("role")
    @classmethod
    def _no_function_results(cls, value: str) -> str:
        if value == "function":
            raise _invalid("'function' messages belong to the legacy functions API, which is not supported: send a "
                           "tool's result as a 'tool' message")
        return value

    @field_validator("tool_calls")
    @classmethod
    def _assistant_calls(cls, value: list[InputToolCall] | None, info: ValidationInfo) -> list[InputToolCall] | None:
        if value and info.data.get("role") != "assistant":
            raise _invalid("only assistant messages carry tool_calls")
        return value

    _no_function_call = field_validator("function_call")(_refuse_when_set)

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    include_usage: bool = False


class JsonSchemaFormat(BaseModel):
    name: str = Field("response", max_length=64)
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = Field(None, validate_default=True)

    @field_validator("json_schema")
    @classmethod
    def _schema_given(cls, value: JsonSchemaFormat | None, info: ValidationInfo) -> JsonSchemaFormat | None:
        if info.data.get("type") == "json_schema" and value is None:
            raise ValueError("response_format of type json_schema needs a json_schema object")
        return value


class GenerationOptions(BaseModel):
    """Sampling options shared by every endpoint that generates free text."""

    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    stop: str | Annotated[list[str], Field(max_length=MAX_STOP)] | None = None
    seed: int | None = Field(None, ge=-(2**63), lt=2**63)
    presence_penalty: float = Field(0.0, ge=-2, le=2)
    frequency_penalty: float = Field(0.0, ge=-2, le=2)
    # vLLM extras
    top_k: int = Field(0, ge=-1)
    min_p: float = Field(0.0, ge=0, le=1)
    repetition_penalty: float = Field(1.0, gt=0, le=2)

    def stop_list(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        stops = [self.stop] if isinstance(self.stop, str) else self.stop
        return tuple(s for s in stops if s)

    def generation_params(self, max_tokens: int, defaults: Mapping[str, Any] = {}, **extra: Any) -> GenerationParams:
        """These options as engine parameters; `extra` sets n, logprobs or a JSON mode. A sampling field
        the request left out takes the model's default from `defaults` (``Engine.sampling_defaults``),
        else the OpenAI default, as vLLM does."""
        sampling = {name: getattr(self, name) if name in self.model_fields_set else defaults.get(name, getattr(self, name))
                    for name in MODEL_DEFAULTED_FIELDS}
        return GenerationParams(max_tokens=max_tokens, seed=self.seed, stop=self.stop_list(), **sampling, **extra)


class SamplingFields(GenerationOptions):
    """Fields shared by chat and text completions."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    model: str | None = None
    n: int = Field(1, ge=1, le=MAX_N)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=256)
    logit_bias: dict[int, float] | None = None
    """Token id -> bias from -100 to 100 (OpenAI's keys are token ids as strings)."""

    _logit_bias = field_validator("logit_bias", mode="before")(_parse_logit_bias)


class ChatCompletionRequest(SamplingFields):
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    response_format: ResponseFormat | None = None
    tools: Annotated[list[Tool], Field(min_length=1)] | None = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    """Unset with tools: "auto", as in vLLM and OpenAI."""
    parallel_tool_calls: bool | None = None
    """False: at most one tool call (vLLM keeps the first; a tool-call grammar stops after one)."""
    functions: Any = None
    function_call: Any = None

    _no_functions = field_validator("functions", "function_call")(_refuse_when_set)

    @model_validator(mode="after")
    def _tool_choice_needs_tools(self) -> "ChatCompletionRequest":
        """vLLM's rules (``check_tool_usage``): a tool choice other than "none" needs tools, and a named
        one must name one of them."""
        choice = self.tool_choice
        if choice is None or choice == "none":
            return self
        if not self.tools:
            raise field_error("tool_choice", "tool_choice needs tools: give the functions the model may call in tools")
        if isinstance(choice, NamedToolChoice) and choice.function.name not in {t.function.name for t in self.tools}:
            raise field_error("tool_choice", f"tool_choice names the function {choice.function.name!r}, which is "
                              "not one of the tools")
        return self

    def effective_tool_choice(self) -> str | NamedToolChoice | None:
        """The tool choice vLLM acts on: "auto" when tools are given and tool_choice is not; "none" without
        tools (an explicit null with tools stays null, which vLLM then treats as "auto" when parsing)."""
        if "tool_choice" not in self.model_fields_set:
            return "auto" if self.tools else "none"
        return self.tool_choice

    @field_validator("top_logprobs")
    @classmethod
    def _needs_logprobs(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value and not info.data.get("logprobs"):
            raise ValueError("top_logprobs needs logprobs=true")
        return value

    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


TokenIds = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]


class CompletionRequest(SamplingFields):
    """A text completion; `prompt` is one prompt (text or token ids) or a list of them, each
    answered with `n` choices (choice ``index`` = prompt index x n + i, as OpenAI and vLLM)."""

    prompt: (str | TokenIds | Annotated[list[str], Field(min_length=1)]
             | Annotated[list[TokenIds], Field(min_length=1)])
    max_tokens: int | None = Field(None, ge=0)
    """0 only with `echo`: the prompt comes back (with its log probabilities) and nothing is generated."""
    logprobs: int | None = Field(None, ge=0, le=20)
    echo: bool = False
    """Prepend each prompt to its choices' text (and, with `logprobs`, its tokens' log probabilities)."""
    suffix: str | None = None
    best_of: int | None = Field(None, ge=1)

    @field_validator("prompt", mode="wrap")
    @classmethod
    def _prompt_shape(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            value = handler(value)
        except ValidationError:  # one message for the four shapes, not one per shape tried
            raise _invalid("prompt must be a string, a list of token ids (integers >= 0), a list of strings, or a "
                           "list of token id lists; no list may be empty") from None
        if isinstance(value, list) and isinstance(value[0], (str, list)) and len(value) > MAX_PROMPTS:
            raise _invalid(f"at most {MAX_PROMPTS} prompts per request; got {len(value)}")
        return value

    @field_validator("suffix")
    @classmethod
    def _no_suffix(cls, value: str | None) -> str | None:
        if value is not None:  # vLLM: only for models with fill-in-the-middle rendering
            raise _invalid("the served model has no fill-in-the-middle template; leave suffix out (or null)")
        return value

    @field_validator("best_of")
    @classmethod
    def _best_of_is_n(cls, value: int | None, info: ValidationInfo) -> int | None:
        n = info.data.get("n", 1)
        if value is not None and value != n:  # vLLM 0.32 has no best_of; best_of == n asks for nothing more
            raise _invalid(f"best_of other than n ({n}) is not supported; leave it out or set it to n")
        return value

    @model_validator(mode="after")
    def _zero_tokens_needs_echo(self) -> "CompletionRequest":
        if self.max_tokens == 0 and not self.echo:
            raise field_error("max_tokens", "max_tokens must be at least 1 (0 only with echo=true, which returns "
                              "the prompt and generates nothing)")
        return self

    def prompts(self) -> list[str | list[int]]:
        """The prompt as a list of prompts (text or token ids)."""
        if isinstance(self.prompt, str) or isinstance(self.prompt[0], int):
            return [self.prompt]
        return list(self.prompt)


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class ChatTokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class ChatLogprobs(BaseModel):
    content: list[ChatTokenLogprob] | None = None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    """Left out of the response when the model called no tool (as vLLM does)."""

    @model_serializer(mode="wrap")
    def _without_empty_tool_calls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if not data.get("tool_calls"):
            data.pop("tool_calls", None)
        return data


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: ChatLogprobs | None = None
    finish_reason: str | None = None


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatChoice]
    usage: Usage


class DeltaFunctionCall(BaseModel):
    name: str | None = None
    arguments: str | None = None


class DeltaToolCall(BaseModel):
    """A piece of a streamed tool call: its first carries the id and name, later ones more arguments text."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: DeltaFunctionCall | None = None


class DeltaMessage(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[DeltaToolCall] | None = None


class ChatChunkChoice(BaseModel):
    index: int
    delta: DeltaMessage
    logprobs: ChatLogprobs | None = None
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None


class CompletionLogprobs(BaseModel):
    """Null entries only for the first token of an echoed prompt, which nothing precedes."""

    tokens: list[str] = Field(default_factory=list)
    token_logprobs: list[float | None] = Field(default_factory=list)
    top_logprobs: list[dict[str, float] | None] = Field(default_factory=list)
    text_offset: list[int] = Field(default_factory=list)


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None = None
    finish_reason: str | None = None


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "icegrt"
    root: str
    parent: str | None = None
    """The model a LoRA adapter sits on; None for the model itself."""
    max_model_len: int


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class TokenizeRequest(BaseModel):
    """``POST /tokenize``, as vLLM's: a `prompt`, or chat `messages` rendered by the chat template."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    prompt: str | None = Field(None, min_length=1)
    messages: Annotated[list[ChatMessage], Field(min_length=1)] | None = None
    tools: Annotated[list[Tool], Field(min_length=1)] | None = None
    """With `messages`: the tools the chat template renders, as a chat completion with them would."""
    add_generation_prompt: bool = True
    """With `messages`: end with the assistant's turn opening, as a chat completion's prompt does."""
    return_token_strs: bool = False

    @field_validator("return_token_strs")
    @classmethod
    def _no_token_strs(cls, value: bool) -> bool:
        if value:
            raise _invalid("return_token_strs is not supported; /detokenize gives the text of token ids")
        return value

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> "TokenizeRequest":
        if (self.prompt is None) == (self.messages is None):
            raise field_error("prompt", "give either prompt (text) or messages (a chat), not both" if self.prompt
                              else "give the text to tokenize as prompt, or a chat as messages")
        return self


class TokenizeResponse(BaseModel):
    count: int
    max_model_len: int
    tokens: list[int]
    token_strs: list[str] | None = None
    """Always null: `return_token_strs` is refused (the field is there because vLLM's response has it)."""


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    tokens: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]


class DetokenizeResponse(BaseModel):
    prompt: str

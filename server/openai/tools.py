"""Tool calling in chat completions, as vLLM serves it and with vLLM's own code.

- The tools go to the chat template (``tools=``), except for tool_choice "none" under
  ``--exclude-tools-when-tool-choice-none``; earlier tool calls and tool results in ``messages``
  reach the template in the shape Hugging Face templates expect (`template_message`).
- tool_choice "required" or a named function: the output is constrained (vLLM structured outputs)
  as the tool parser's ``adjust_request`` builds the constraint: a JSON schema (the named
  function's parameters, or for "required" an array of ``{"name", "parameters"}``), or, for a
  parser with a structural tag (hermes and others), the calls in the model's own markup. The
  result comes back as ``message.tool_calls``.
- tool_choice "auto" (the default when tools are given) needs ``--enable-auto-tool-choice`` and
  ``--tool-call-parser``, else it is vLLM's 400; the model's output is read with that parser
  (``extract_tool_calls``, or ``extract_tool_calls_streaming`` chunk by chunk).
- The message, ``finish_reason`` and streamed deltas are built as vLLM's chat serving builds them
  ("tool_calls" for auto calls and "required"; a named call finishes as the engine says).

vLLM composes a parser (``vllm.parser``) around the tool parser; it reads vLLM's own request
object, built here from ours (`ToolCallRequest`). Unlike vLLM 0.32, "required" and named choices
work without ``--tool-call-parser`` too: through a parser that knows only the JSON-schema path,
the path vLLM takes for every parser without a structural tag. vLLM is imported only for
requests that use tools (and at startup when a parser is configured).
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from pydantic import ValidationError

from common.errors import UserError
from inference.engine import EngineRequestError
from server.errors import APIError
from server.openai.protocol import (
    AssistantMessage,
    ChatCompletionRequest,
    FunctionCall,
    InputToolCall,
    NamedToolChoice,
    ToolCall,
)

log = logging.getLogger(__name__)

AUTO_NEEDS_PARSER = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
"""vLLM's message, for tools sent without tool_choice (or with "auto") to a server without a parser."""


def check_tool_settings(tool_call_parser: str | None, tool_parser_plugin: str | None) -> None:
    """Import `tool_parser_plugin` and check that `tool_call_parser` names a registered vLLM tool
    parser, before the engine loads; `UserError` if not."""
    if not tool_call_parser and not tool_parser_plugin:
        return
    from vllm.tool_parsers import ToolParserManager

    if tool_parser_plugin:
        try:
            ToolParserManager.import_tool_parser(tool_parser_plugin)
        except Exception as exc:  # the plugin is the user's code
            raise UserError(f"--tool-parser-plugin {tool_parser_plugin}: {type(exc).__name__}: {exc}") from None
    if tool_call_parser:
        names = ToolParserManager.list_registered()
        if tool_call_parser not in names:
            raise UserError(f"--tool-call-parser {tool_call_parser!r} is not a vLLM tool parser; choose one of "
                            f"{', '.join(names)}, or register one with --tool-parser-plugin")


def _arguments(value: str, name: str) -> dict[str, Any]:
    """A tool call's arguments as the object templates expect; vLLM's way: text that is not a JSON
    object becomes {} (with a warning), so a bad call in the history cannot fail every later turn."""
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        log.warning("tool call %r has arguments that are not JSON; the template gets {}", name)
        return {}
    return parsed if isinstance(parsed, dict) else {}


def template_tool_calls(calls: list[InputToolCall]) -> list[dict[str, Any]]:
    """An assistant message's tool calls for the chat template: arguments as objects, not JSON text."""
    out = []
    for call in calls:
        out.append({"id": call.id, "type": "function", "function": {
            "name": call.function.name, "arguments": _arguments(call.function.arguments, call.function.name)}})
    return out


@cache
def _json_only_parser() -> type:
    """A vLLM parser for "required" and named tool choices without a configured tool parser: vLLM's
    JSON-schema constraint and JSON reading of the calls (its path for parsers without a structural
    tag); "auto" is never parsed with it."""
    from vllm.parser.abstract_parser import DelegatingParser
    from vllm.tool_parsers.abstract_tool_parser import ToolParser

    class JsonToolCalls(ToolParser):
        """Nothing of its own: `ToolParser.adjust_request` builds the JSON schema from the tools."""

    class JsonOnlyParser(DelegatingParser):
        tool_parser_cls = JsonToolCalls

    return JsonOnlyParser


class ToolCalling:
    """Tool calling for the served model: the parser ``--tool-call-parser`` names, composed by vLLM
    and checked against the model's tokenizer (with ``--enable-auto-tool-choice``, as in vLLM)."""

    def __init__(self, *, enable_auto_tool_choice: bool = False, tool_call_parser: str | None = None,
                 tool_strict_level: str = "auto", exclude_tools_when_tool_choice_none: bool = False,
                 tokenizer: Any = None):
        self.enable_auto = enable_auto_tool_choice and bool(tool_call_parser)
        self.exclude_tools_when_none = exclude_tools_when_tool_choice_none
        self.tokenizer = tokenizer
        self.parser_cls: type | None = None
        if self.enable_auto:
            from vllm.parser.parser_manager import ParserManager

            self.parser_cls = ParserManager.get_parser(tool_parser_name=tool_call_parser, enable_auto_tools=True,
                                                       tool_strict_level=tool_strict_level, tokenizer=tokenizer)

    @classmethod
    def from_settings(cls, settings: Any, tokenizer: Any) -> "ToolCalling":
        """For `settings` (`server.settings.ServerSettings`) and the loaded model's tokenizer."""
        return cls(enable_auto_tool_choice=settings.enable_auto_tool_choice,
                   tool_call_parser=settings.tool_call_parser, tool_strict_level=settings.tool_strict_level,
                   exclude_tools_when_tool_choice_none=settings.exclude_tools_when_tool_choice_none,
                   tokenizer=tokenizer)

    def template_tools(self, req: ChatCompletionRequest) -> list[dict[str, Any]] | None:
        """The tools as the chat template gets them, or None."""
        if not req.tools or (self.exclude_tools_when_none and req.effective_tool_choice() == "none"):
            return None
        return [tool.template_dict() for tool in req.tools]

    def plan(self, req: ChatCompletionRequest) -> "ToolCallRequest | None":
        """How `req`'s output is read: None for plain text; an `APIError` (400) for "auto" without a parser."""
        choice = req.effective_tool_choice()
        forced = choice == "required" or isinstance(choice, NamedToolChoice)
        if self.parser_cls is None:
            if choice == "auto":
                raise APIError(400, AUTO_NEEDS_PARSER, param="tool_choice", code="invalid_value")
            return ToolCallRequest(self, _json_only_parser(), req) if forced else None
        engine_based = getattr(self.parser_cls.tool_parser_cls, "engine_based_streaming", False)
        if (req.tools and choice != "none") or engine_based:  # vLLM reads every reply with an engine-based parser
            return ToolCallRequest(self, self.parser_cls, req)
        return None


def _vllm_request(req: ChatCompletionRequest):
    """vLLM's request object for `req`, holding what its parsers read."""
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest as VllmChatRequest

    messages = [message.model_dump(exclude_none=True) for message in req.messages]
    body: dict[str, Any] = {"messages": messages, "model": req.model, "stream": req.stream}
    if req.tools:
        body["tools"] = [tool.model_dump(exclude_none=True) for tool in req.tools]
    if "tool_choice" in req.model_fields_set:
        choice = req.tool_choice
        body["tool_choice"] = choice.model_dump() if isinstance(choice, NamedToolChoice) else choice
    if req.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.response_format is not None:
        body["response_format"] = req.response_format.model_dump(by_alias=True, exclude_none=True)
    try:
        return VllmChatRequest.model_validate(body)
    except ValidationError as exc:  # what ours accepts and vLLM's does not (its rules are checked in ours)
        error = exc.errors()[0]
        cause = (error.get("ctx") or {}).get("error")
        where = ".".join(str(part) for part in error.get("loc", ()))
        raise APIError(400, str(cause or f"{where}: {error.get('msg')}"), code="invalid_value",
                       param=getattr(cause, "parameter", None) or str(error.get("loc", ("messages",))[0])) from None


class ToolCallRequest:
    """One chat completion's tool calling: its generation constraint, and its replies read into
    tool calls (`message`, or `stream` per streamed choice)."""

    def __init__(self, calling: ToolCalling, parser_cls: type, req: ChatCompletionRequest):
        from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionNamedToolChoiceParam

        self._parser_cls = parser_cls
        self._tokenizer = calling.tokenizer
        self.enable_auto = calling.enable_auto and parser_cls is calling.parser_cls
        self.request = _vllm_request(req)
        self._template_kwargs = self.request.build_chat_params(None, "string").chat_template_kwargs
        self.named = isinstance(self.request.tool_choice, ChatCompletionNamedToolChoiceParam)
        self.required = self.request.tool_choice == "required"
        self.constrained = False
        if self.request.tools and self.request.tool_choice != "none":
            before = self.request.extract_structured_outputs()
            try:
                self.request = self.new_parser().adjust_request(self.request)
            except ValueError as exc:  # vLLM's VLLMValidationError, e.g. tools whose $defs disagree
                raise APIError(400, str(exc.args[0] if exc.args else exc), code="invalid_value",
                               param=getattr(exc, "parameter", None) or "tools") from None
            self.constrained = self.request.extract_structured_outputs() != before

    def new_parser(self):
        """A fresh vLLM parser (they keep state: one per choice)."""
        return self._parser_cls(self._tokenizer, self.request.tools, chat_template_kwargs=self._template_kwargs)

    def generation_fields(self) -> dict[str, Any]:
        """`inference.engine.GenerationParams` fields for the constraint vLLM would put on the request
        (tool calls, else the request's response_format) and its special-token handling."""
        fields: dict[str, Any] = {"skip_special_tokens": self.request.skip_special_tokens}
        structured = self.request.extract_structured_outputs()
        if structured is None:
            return fields
        if structured.json is not None:
            schema = structured.json
            fields["json_schema"] = json.loads(schema) if isinstance(schema, str) else schema
        elif structured.json_object:
            fields["json_object"] = True
        elif structured.structural_tag is not None:
            fields["structural_tag"] = structured.structural_tag
        return fields

    def blame_grammar_on_tools(self, exc: EngineRequestError) -> None:
        """Make the engine's grammar error name tools when the grammar was the tool calls'."""
        if self.constrained and exc.param == "response_format":
            exc.param = "tools"
            exc.args = ("the tools' parameter schemas cannot be compiled into a grammar",)

    def message(self, text: str, token_ids: list[int], finish_reason: str | None,
                prompt_ids: list[int]) -> tuple[AssistantMessage, str]:
        """The reply's message and finish_reason, as vLLM's ``chat_completion_full_generator`` makes them."""
        parser = self.new_parser()
        parser.set_prompt_token_ids(prompt_ids)
        _, content, calls = parser.parse(text, self.request, enable_auto_tools=self.enable_auto,
                                         model_output_token_ids=token_ids)
        tool_calls: list[ToolCall] = []
        auto_called = False
        if self.named or self.required:
            content = content or ""
            tool_calls = [_tool_call(call) for call in calls or []]
        elif self.enable_auto and self.request.tools and self.request.tool_choice in ("auto", None):
            tool_calls = [_tool_call(call) for call in calls or []]
            auto_called = bool(tool_calls)
        if self.request.parallel_tool_calls is False:
            tool_calls = tool_calls[:1]
        if auto_called or (self.required and finish_reason == "stop"):
            finish_reason = "tool_calls"
        return AssistantMessage(content=content, tool_calls=tool_calls or None), finish_reason or "stop"

    def stream(self, prompt_ids: list[int]) -> "ToolCallStream":
        return ToolCallStream(self, prompt_ids)


def _tool_call(call) -> ToolCall:
    from vllm.renderers.chat_utils import make_tool_call_id

    return ToolCall(id=call.id or make_tool_call_id(), function=FunctionCall(name=call.name, arguments=call.arguments))


class ToolCallStream:
    """One streamed choice read by vLLM's parser, as vLLM's ``chat_completion_stream_generator`` does."""

    def __init__(self, request: ToolCallRequest, prompt_ids: list[int]):
        self._request = request
        self._parser = request.new_parser()
        self._prompt_ids = prompt_ids
        self.tools_streamed = False

    def delta(self, text: str, token_ids: list[int], finished: bool) -> dict[str, Any] | None:
        """The chunk's ``delta`` (content, or pieces of tool calls); None while the parser holds text back."""
        message = self._parser.parse_delta(delta_text=text, delta_token_ids=list(token_ids),
                                           request=self._request.request, prompt_token_ids=self._prompt_ids,
                                           finished=finished)
        if message is None:
            return None
        if message.tool_calls:
            self.tools_streamed = True
            if self._request.request.parallel_tool_calls is False:
                message.tool_calls = [call for call in message.tool_calls if call.index == 0]
        delta = message.model_dump(exclude_unset=True)
        delta.pop("reasoning", None)
        return delta

    def finish_reason(self, engine_reason: str) -> str:
        if self.tools_streamed and not self._request.named and engine_reason == "stop":
            return "tool_calls"
        return engine_reason or "stop"

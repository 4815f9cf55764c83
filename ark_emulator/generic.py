"""Generic mode: a strict OpenAI-compatible server, worded like llama.cpp's `llama-server`.

It serves /v1/chat/completions, /v1/responses (nothing stored), GET /v1/models and
GET /props, and is
stricter than Ark where llama.cpp is: an explicit JSON null is refused instead of being
read as absent, `previous_response_id` is refused, and so is an assistant item given as a
plain string in Responses input. A prompt longer than the context size (`n_ctx`, which
/props reports) is refused, as llama.cpp does. Errors have llama.cpp's shape
`{"error": {"code": 400, "message": ..., "type": "invalid_request_error"}}`
(tools/server/server-common.cpp, format_error_response).

With `stores_responses` set it is instead a server that stores responses and chains them
by `previous_response_id` (as vLLM does with its response store), strict otherwise.

With `like="vllm"` it has no /props: its context size is the `max_model_len` of each
model `GET /v1/models` lists, as vLLM reports it, each model says it is served by vLLM
(`owned_by`), and a final assistant message is continued only when the request says
`continue_final_message` (and turns `add_generation_prompt` off, as vLLM requires);
otherwise a new answer follows it. As llama.cpp, /v1/models gives only the
model's training context (`meta.n_ctx_train`), which is not the context it runs with.
"""

from __future__ import annotations

from . import errors
from .call import Call
from .chat import chat_completions
from .replies import count_message_tokens
from .responses_api import input_messages, serve_response

DEFAULT_N_CTX = 8192
DEFAULT_MODEL = "local-model"  # the name GET /v1/models lists
LIKE = ("llama.cpp", "vllm")

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",  # llama.cpp never sends 429; the emulator's faults may
    500: "server_error",
    501: "not_supported_error",
    503: "unavailable_error",
}


def error_body(error: errors.ApiError, request_id: str) -> dict:
    """llama.cpp's error shape: the status as `code`, no param, no request id."""
    kind = _TYPE_BY_STATUS.get(error.status, "server_error")
    if error.code == EXCEEDS_CONTEXT:
        kind = "exceed_context_size_error"
    return {"error": {"code": error.status, "message": error.message, "type": kind}}


EXCEEDS_CONTEXT = "exceed_context_size"


def context_exceeded(prompt_tokens: int, n_ctx: int) -> errors.ApiError:
    """llama.cpp's refusal of a prompt that does not fit its context."""
    message = (
        f"request ({prompt_tokens} tokens) exceeds the available context size "
        f"({n_ctx} tokens), try increasing it"
    )
    return errors.ApiError(400, EXCEEDS_CONTEXT, message)


def file_not_found(path: str) -> errors.ApiError:
    """What llama.cpp answers for a route it does not have, such as /context/create."""
    return errors.ApiError(404, "", "File Not Found")


def invalid_api_key() -> errors.ApiError:
    return errors.ApiError(401, "", "Invalid API Key")


def invalid_request(message: str) -> errors.ApiError:
    return errors.ApiError(400, "", message)


def chat(call: Call) -> None:
    """POST /v1/chat/completions: the Ark reply, once the body has no nulls and the
    prompt fits the context."""
    reject_nulls(call.body)
    messages = call.body.get("messages")
    if isinstance(messages, list):
        check_context_size(call, [m for m in messages if isinstance(m, dict)])
    if call.settings.like != "vllm":
        chat_completions(call)
        return
    continues = call.body.get("continue_final_message") is True
    if continues and call.body.get("add_generation_prompt", True) is not False:
        raise invalid_request(
            "Cannot set both `continue_final_message` and `add_generation_prompt` to True."
        )
    chat_completions(call, continues_final_message=continues)


def responses(call: Call) -> None:
    """POST /v1/responses, checked in llama.cpp's order (convert_responses_to_chatcmpl)."""
    if "input" not in call.body:
        raise invalid_request("'input' is required")
    stores = call.settings.stores_responses
    if call.body.get("previous_response_id") and not stores:
        raise invalid_request("llama.cpp does not support 'previous_response_id'.")
    _check_input_items(call.body["input"])
    reject_nulls(call.body)
    check_context_size(call, input_messages(call.body["input"]))
    serve_response(call, store=call.backend.responses if stores else None)


def check_context_size(call: Call, messages: list[dict]) -> None:
    """Refuse a prompt of more tokens than the context holds."""
    tokens = count_message_tokens(messages)
    if tokens > call.settings.n_ctx:
        raise context_exceeded(tokens, call.settings.n_ctx)


def props(call: Call) -> None:
    """GET /props: the server's settings, of which clients read the context size (vLLM
    has no such route)."""
    if call.settings.props_refused is not None:
        raise errors.ApiError(call.settings.props_refused, "", "Forbidden")
    if call.settings.like == "vllm":
        raise file_not_found("/props")
    call.send_json(
        200,
        {
            "default_generation_settings": {
                "id": 0,
                "id_task": -1,
                "n_ctx": call.settings.n_ctx,
                "is_processing": False,
                "params": {"n_predict": -1, "temperature": 0.8, "top_p": 0.95},
            },
            "total_slots": 1,
            "model_path": "ark-emulator.gguf",
            "modalities": {"vision": False, "audio": False},
            "build_info": "ark-emulator",
        },
    )


def models(call: Call) -> None:
    """GET /v1/models: the one model served, with its sizes as the server reports them."""
    n_ctx = call.settings.n_ctx
    if call.settings.like == "vllm":
        card = {"owned_by": "vllm", "root": DEFAULT_MODEL, "max_model_len": n_ctx}
    else:
        card = {"owned_by": "llamacpp", "meta": {"n_ctx_train": n_ctx * 4, "n_vocab": 49152}}
    model = {"id": DEFAULT_MODEL, "object": "model", "created": int(call.settings.now())}
    call.send_json(200, {"object": "list", "data": [{**model, **card}]})


def reject_nulls(body: dict) -> None:
    """400 on the first explicit null; `tools` first, with llama.cpp's own message."""
    if "tools" in body and body["tools"] is None:
        raise invalid_request("'tools' must be an array of objects")
    path = _first_null(body, "")
    if path is not None:
        raise invalid_request(f"'{path}' must not be null")


def _first_null(value: object, path: str) -> str | None:
    if value is None:
        return path
    if isinstance(value, dict):
        children = ((f"{path}.{key}" if path else key, item) for key, item in value.items())
    elif isinstance(value, list):
        children = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for child_path, item in children:
        found = _first_null(item, child_path)
        if found is not None:
            return found
    return None


def _check_input_items(raw: object) -> None:
    """The item forms llama.cpp accepts; an assistant message needs `type` and a list of
    `output_text` parts, where Ark also takes a plain string."""
    if isinstance(raw, str):
        return
    if not isinstance(raw, list):
        raise invalid_request("'input' must be a string or array of objects")
    for item in raw:
        if not isinstance(item, dict):
            raise invalid_request("Cannot determine type of 'item'")
        if item.get("role") == "assistant":
            _check_assistant_item(item)


def _check_assistant_item(item: dict) -> None:
    if item.get("type") != "message":
        raise invalid_request("Cannot determine type of 'item'")
    content = item.get("content")
    parts = content if isinstance(content, list) else [{"type": "input_text"}]
    if any(not isinstance(part, dict) or part.get("type") != "output_text" for part in parts):
        raise invalid_request("'type' must be 'output_text'")

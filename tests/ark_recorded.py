# ruff: noqa: E501  (the recorded JSON keeps its published line breaks)
"""Real Ark responses, copied verbatim from /work/shared/reference/ark-api.md (the project's
Ark reference), for tests/test_emulator_shapes.py to pin the emulator's shapes against.

Each constant names the section it comes from and that section's evidence label: [DOC] is
official Ark documentation, [3P] a real response quoted by a third party, [RUN] checked
against the real SDK. The JSON text is kept as published ("..." marks text the source cut).
"""

import json

# §4.2 Non-stream response [DOC]: from the official "迁移至 Responses API" doc.
CHAT_COMPLETION = json.loads(
    r"""
{"choices":[{"finish_reason":"stop","index":0,"logprobs":null,
   "message":{"content":"Hello! How can I assist you today? ...","reasoning_content":"\nGot it, let's see. ...","role":"assistant"}}],
 "created":1765193367,"id":"0217651933631536335e3dfd75940b9979797202ce7ea2a894823",
 "model":"doubao-seed-1-6-251015","service_tier":"default","object":"chat.completion",
 "usage":{"completion_tokens":164,"prompt_tokens":35,"total_tokens":199,
          "prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":114}}}
"""
)

# §4.3 Streaming [3P]: "A real Ark chunk, quoted by a third-party prompt file" (the SSE
# line without its "data: " prefix). No finish_reason on an intermediate chunk.
CHAT_CHUNK = json.loads(
    r"""
{"choices":[{"delta":{"content":"用户","role":"assistant"},"index":0}],"created":1744896730,"id":"021744896728055243395cc7f2861e4cc1d825bd853dc612fda41","model":"deepseek-v3-250324","service_tier":"default","object":"chat.completion.chunk","usage":null}
"""
)

# §4.3 Streaming [3P]: a thinking model's reasoning chunk, its choice part as quoted.
REASONING_CHOICE = json.loads(
    r"""{"delta":{"content":"","reasoning_content":"\n","role":"assistant"}}"""
)

# §5.1 Create, response [DOC page mirror][3P].
CONTEXT_CREATED = json.loads(
    r"""
{"id":"ctx-20250120174458-6c94p","model":"ep-20250120174411-9h98m","ttl":3600,
 "truncation_strategy":{"type":"rolling_tokens","rolling_tokens":true},
 "usage":{"prompt_tokens":18,"completion_tokens":0,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":0}},
 "mode":"session"}
"""
)

# §6 Responses API, response [DOC]: from the official migration doc. The request set no
# max_output_tokens and no expire_at (expire_at - created_at is the 3-day default).
RESPONSE = json.loads(
    r"""
{"created_at":1765193461,"id":"resp_0217651934613099e1bacc68b98f823c2af95ea68bff0aec36f83","max_output_tokens":32768,
 "model":"doubao-seed-1-6-251015","object":"response",
 "output":[{"id":"rs_0217...","type":"reasoning","summary":[{"type":"summary_text","text":"..."}],"status":"completed"},
           {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hello! ..."}],"status":"completed","id":"msg_0217..."}],
 "service_tier":"default","status":"completed",
 "usage":{"input_tokens":35,"output_tokens":118,"total_tokens":153,"input_tokens_details":{"cached_tokens":0},
          "output_tokens_details":{"reasoning_tokens":82}},
 "caching":{"type":"disabled"},"store":true,"expire_at":1765452661}
"""
)

# §6 Streaming [RUN]: the event order verified with the real SDK (not a recording of Ark).
RESPONSE_EVENT_ORDER = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_text.delta",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.completed",
]

# §7.1 Wire format [DOC][3P]: "a real 404 quoted in several third-party repositories".
ERROR_404 = json.loads(
    r"""
{"error":{"code":"InvalidEndpointOrModel.NotFound",
          "message":"The model or endpoint ep-xxxx-xxx does not exist or you do not have access to it. Request id: 021740173163661320f9aadc50dbf6687c3b1e9f9e54ac6d067ad",
          "param":"","type":"NotFound"}}
"""
)

# §10 Emulator checklist, item 2 (from the §7.3 table [DOC]): the 401 body.
ERROR_401 = json.loads(
    r"""
{"error":{"code":"AuthenticationError","message":"The API key or AK/SK in the request is missing or invalid. Request id: <id>","param":"","type":"Unauthorized"}}
"""
)

# §7.3 Ark error codes (official table [DOC], and the observed rows [3P]):
# status, type, code and the message before " Request id: ...".
ERROR_ROWS = {
    "AuthenticationError": (
        401,
        "Unauthorized",
        "The API key or AK/SK in the request is missing or invalid.",
    ),
    "InvalidEndpointOrModel.NotFound": (
        404,
        "NotFound",
        "The model or endpoint %s does not exist or you do not have access to it.",
    ),
    "ModelNotOpen": (
        404,
        "NotFound",
        "Your account %s has not activated the model %s. "
        "Please activate the model service in the Ark Console.",
    ),
    "RateLimitExceeded.EndpointRPMExceeded": (
        429,
        "TooManyRequests",
        "The Requests Per Minute (RPM) limit of the associated endpoint "
        "for your account has been exceeded.",
    ),
    "OperationDenied.InvalidState": (
        403,
        "Forbidden",
        "Operation is denied because the specified context is in invalid state: InProgress.",
    ),
    "InternalServiceError": (500, "InternalServerError", None),  # observed; no message given
    "SensitiveContentDetected": (
        400,
        "BadRequest",
        "The request failed because the input text may contain sensitive information.",
    ),
    "MissingParameter": (
        400,
        "BadRequest",
        "The request failed because it is missing one or multiple required parameters.",
    ),
}

# §7.3, the documented instructions-with-caching row [DOC], message verbatim up to the id.
CACHING_WITH_INSTRUCTIONS = (
    "The parameter instructions specified in the request are not valid: "
    "caching is not supported for instructions. Request id: "
)

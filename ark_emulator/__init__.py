"""A loopback HTTP server that speaks the Volcengine Ark API as the real SDK sees it.

    with ArkEmulator(api_key="test-key") as emu:
        client = Ark(api_key="test-key", base_url=emu.base_url, max_retries=0)

Routes under /api/v3: POST /chat/completions, /context/create, /context/chat/completions,
/responses; GET and DELETE /responses/{id}. Replies are deterministic ("Echo: <prompt>",
see `replies`); response shapes follow the recorded real ones in the project's Ark
reference (tests/test_emulator_shapes.py pins them).

The public API is `ArkEmulator`: settings (`ttft`, `token_delay`, `reply_tokens`,
`reasoning`, `clock`, ...), faults (`fail_next`, `random_faults`, `clear_faults`,
`faults_injected`), the request log (`requests`, `clear_requests`, `wait_idle`) and stored
state (`contexts`, `responses`, `expire_contexts`, `expire_responses`). With
`generic=True` it is instead a strict OpenAI-compatible server worded like llama.cpp's
`llama-server` (see `generic`).

Standard library only, and no import of the app: `python -m ark_emulator --help` lists the
command line, which serves it by hand so the app can be tried without a real key.
"""

from .faults import Fault
from .log import RecordedRequest
from .records import ContextRecord, ResponseRecord
from .server import ArkEmulator

__all__ = ["ArkEmulator", "ContextRecord", "Fault", "RecordedRequest", "ResponseRecord"]

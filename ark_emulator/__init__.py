"""A loopback HTTP server that speaks the Volcengine Ark API as the real SDK sees it.

    with ArkEmulator(api_key="test-key") as emu:
        client = Ark(api_key="test-key", base_url=emu.base_url, max_retries=0)

Routes under /api/v3: POST /chat/completions, /context/create, /context/chat/completions,
/responses; GET and DELETE /responses/{id}. Replies are deterministic ("Echo: <prompt>",
see `replies`). Knobs: `ttft`, `token_delay`, `reply_tokens`, `clock`,
`reject_concurrent_context_use`, `verbose`. Faults: `fail_next`, `random_faults`,
`clear_faults`, `faults_injected`. State: `requests`, `contexts`, `responses`,
`expire_contexts()`, `expire_responses()`.

Standard library only. `python -m ark_emulator` serves it by hand, so the app can
be tried without a real key.
"""

from .faults import Fault
from .handler import RecordedRequest
from .records import ContextRecord, ResponseRecord
from .server import ArkEmulator

__all__ = ["ArkEmulator", "ContextRecord", "Fault", "RecordedRequest", "ResponseRecord"]

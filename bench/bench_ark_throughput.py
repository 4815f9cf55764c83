"""Tokens per second through `stream_turn` versus the bare SDK stream, on the emulator.

Run from the repo root: `python bench/bench_ark_throughput.py [tokens] [repetitions]`.
The emulator streams a long reply with no delay; both paths read the same kind of
stream in the same run, interleaved (alternating which goes first), and the medians
are compared. Target: layer time / SDK time <= 1.05.

Wall-clock time includes the emulator, which runs in a thread of this process, so it is
sensitive to machine load. The client thread's CPU time (SDK parsing plus the layer) is
printed too: it is the steadier measure of the layer's own overhead.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time

import httpx

from ark_emulator import ArkEmulator
from chat_core.ark import ContentDelta, TurnRequest, make_client, stream_turn
from chat_core.config import Settings

KEY = "bench-key"
MODEL = "doubao-seed-1-6-250615"
PROMPT = "benchmark"
TARGET_RATIO = 1.05


def time_sdk(client) -> tuple[float, float, int]:
    """Wall seconds, client CPU seconds and content tokens for the bare SDK."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
        thinking={"type": "disabled"},
    )
    tokens = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            tokens += 1
    return time.perf_counter() - started, time.thread_time() - cpu_started, tokens


def time_layer(client) -> tuple[float, float, int]:
    """Wall seconds, client CPU seconds and content tokens through `stream_turn`."""
    request = TurnRequest(model=MODEL, new_message=PROMPT, thinking="disabled")
    started, cpu_started = time.perf_counter(), time.thread_time()
    tokens = 0
    for event in stream_turn(client, request):
        if type(event) is ContentDelta:
            tokens += 1
    return time.perf_counter() - started, time.thread_time() - cpu_started, tokens


def measure(client, repetitions: int) -> tuple[dict, dict, int]:
    """Per path: lists of wall and CPU seconds; plus the tokens per reply."""
    results = {time_sdk: ([], []), time_layer: ([], [])}
    tokens = 0
    time_sdk(client), time_layer(client)  # warm up connections and caches
    for rep in range(repetitions):
        runs = (time_sdk, time_layer) if rep % 2 == 0 else (time_layer, time_sdk)
        for run in runs:
            gc.collect()
            wall, cpu, tokens = run(client)
            results[run][0].append(wall)
            results[run][1].append(cpu)
    return results[time_sdk], results[time_layer], tokens


def main(reply_tokens: int = 20_000, repetitions: int = 7) -> int:
    with ArkEmulator(api_key=KEY) as emu:
        emu.ttft = 0
        emu.token_delay = 0
        emu.reply_tokens = reply_tokens
        settings = Settings(api_key=KEY, base_url=emu.base_url, max_retries=0, timeout=120)
        with make_client(settings, http_client=httpx.Client(trust_env=False)) as client:
            sdk, layer, tokens = measure(client, repetitions)
    sdk_wall, sdk_cpu = (statistics.median(values) for values in sdk)
    layer_wall, layer_cpu = (statistics.median(values) for values in layer)
    ratio = layer_wall / sdk_wall
    print(f"reply: {tokens} tokens, {repetitions} repetitions each, medians")
    print(f"bare SDK:    {tokens / sdk_wall:8.0f} tokens/s  ({sdk_wall * 1000:7.1f} ms wall)")
    print(f"stream_turn: {tokens / layer_wall:8.0f} tokens/s  ({layer_wall * 1000:7.1f} ms wall)")
    verdict = "ok" if ratio <= TARGET_RATIO else "ABOVE TARGET"
    print(f"ratio (layer time / SDK time): {ratio:.3f}  (target <= {TARGET_RATIO}: {verdict})")
    print(
        f"client-thread CPU: SDK {sdk_cpu * 1000:.1f} ms, layer {layer_cpu * 1000:.1f} ms, "
        f"ratio {layer_cpu / sdk_cpu:.3f}"
    )
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main(*(int(arg) for arg in sys.argv[1:3])))

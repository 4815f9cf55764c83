"""What a 5 MB photo adds to the first token, on the emulator.

Run from the repo root: `python bench/bench_images.py [repetitions] [--mode off|responses]`.

Each repetition sends one message to a new chat twice, interleaved (alternating which
goes first): text alone, and the same text with a 5 MB JPEG photo (4032 × 3024, as a
phone takes them). The time runs from the moment the message is sent (what the page
does once the chat input hands over its text and file) to the reply's first token: the
photo is checked, scaled and re-encoded (`images.prepare_images`), stored with the
message in SQLite, read back and sent as a base64 data URL in the request, which the
emulator decodes and measures before answering. The upload from the browser to the app
is not included (it happens before the message is sent, while the user types).

Target: the photo adds at most 300 ms to the median first token. The figures are
printed; nothing here asserts on time. Beside the wall time, the process's CPU time over
the same span (the app's work and the in-process emulator's) is printed: on a machine
shared with other work, the wall time grows with the contention and the CPU time does not.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image as Pillow

from ark_emulator import ArkEmulator
from chat_core import chat
from chat_core.ark import ContentDelta, make_client
from chat_core.config import Settings
from chat_core.images import prepare_images
from chat_core.store import connect

KEY = "bench-key"
MODEL = "doubao-seed-2-1-pro-260628"
TEXT = "What is in this photo?"
TARGET_MS = 300
PHOTO_SIZE = (4032, 3024)
PHOTO_BYTES = 5 * 1024 * 1024


def photo() -> bytes:
    """A JPEG of about 5 MB with a photo's detail (noise over a gradient)."""
    width, height = PHOTO_SIZE
    noise = Pillow.effect_noise((width, height), 48).convert("RGB")
    gradient = Pillow.linear_gradient("L").resize((width, height)).convert("RGB")
    picture = Pillow.blend(noise, gradient, 0.55)
    for quality in range(95, 40, -5):
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality)
        if out.tell() <= PHOTO_BYTES * 1.05:
            return out.getvalue()
    return out.getvalue()


def first_token_ms(store, settings, client, files) -> tuple[float, float]:
    """Milliseconds from sending a message (with `files`) to its reply's first token:
    wall time, and the process's CPU time."""
    session, _ = store.new_session("bench")
    started, cpu = time.perf_counter(), time.process_time()
    images = prepare_images(files)
    with chat.send(store, settings, session, client, TEXT, images=images) as reply:
        for event in reply:
            if isinstance(event, ContentDelta):
                return (
                    (time.perf_counter() - started) * 1000,
                    (time.process_time() - cpu) * 1000,
                )
    raise RuntimeError("no token arrived")


def median_of(samples: list[tuple[float, float]], index: int) -> float:
    return statistics.median(sample[index] for sample in samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repetitions", nargs="?", type=int, default=15)
    parser.add_argument("--mode", choices=("off", "responses"), default="off")
    args = parser.parse_args(argv)
    data = photo()
    print(f"photo: {PHOTO_SIZE[0]}×{PHOTO_SIZE[1]} JPEG, {len(data) / 2**20:.1f} MB")
    with ArkEmulator(api_key=KEY) as emu, tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            api_key=KEY,
            base_url=emu.base_url,
            model=MODEL,
            cache=args.mode,
            thinking="disabled",
            max_retries=0,
            generated_titles=False,
        )
        with (
            connect(Path(folder) / "bench.db") as store,
            make_client(settings, http_client=httpx.Client(trust_env=False)) as client,
        ):
            first_token_ms(store, settings, client, [("warm.jpg", data)])  # imports, caches
            text, image = [], []
            for n in range(args.repetitions):
                order = [(text, []), (image, [("photo.jpg", data)])]
                for times, files in order if n % 2 == 0 else order[::-1]:
                    times.append(first_token_ms(store, settings, client, files))
    print(f"mode {args.mode}, {args.repetitions} repetitions each; medians, wall (CPU)")
    for label, samples in (("text alone", text), ("with photo", image)):
        wall, cpu = median_of(samples, 0), median_of(samples, 1)
        print(f"first token, {label}:  {wall:6.1f} ms  ({cpu:6.1f} ms CPU)")
    added = median_of(image, 0) - median_of(text, 0)
    added_cpu = median_of(image, 1) - median_of(text, 1)
    print(f"the photo adds {added:.1f} ms ({added_cpu:.1f} ms CPU); ", end="")
    print(f"target <= {TARGET_MS} ms: ", end="")
    print("met" if added <= TARGET_MS else "MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())

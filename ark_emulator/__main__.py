"""`python -m ark_emulator`: serve the Ark emulator until Ctrl+C."""

from __future__ import annotations

import argparse
import threading

from .server import ArkEmulator


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    emulator = ArkEmulator(
        api_key=args.key,
        ttft=args.ttft,
        token_delay=args.token_delay,
        host=args.host,
        port=args.port,
    )
    emulator.reply_tokens = args.reply_tokens
    emulator.verbose = args.verbose
    if args.fault_rate:
        emulator.random_faults(rate=args.fault_rate)
    emulator.start()
    print(_banner(emulator.base_url, args.key), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


def _banner(base_url: str, key: str) -> str:
    return (
        f"Ark emulator listening on {base_url}\n"
        "Set these in the app's environment:\n"
        f"  export ARK_BASE_URL={base_url}\n"
        f"  export ARK_API_KEY={key}\n"
        "  export NO_PROXY=127.0.0.1,localhost\n"
        "  # the Context API needs an endpoint id, e.g. ARK_MODEL=ep-20250101000000-demo1\n"
        "Press Ctrl+C to stop."
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ark_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--key", default="test-key", help="the API key clients must send")
    parser.add_argument("--ttft", type=float, default=0.0, help="seconds to the first token")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between tokens")
    parser.add_argument("--reply-tokens", type=int, default=None, help="force N-token replies")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="random fault probability")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    return parser


if __name__ == "__main__":
    main()

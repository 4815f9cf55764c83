"""`python -m ark_emulator`: serve the Ark emulator until Ctrl+C."""

from __future__ import annotations

import argparse
import threading

from .faults import DEFAULT_RANDOM_KINDS, FAULT_HELP, Fault
from .generic import DEFAULT_MODEL, DEFAULT_N_CTX, LIKE
from .server import ArkEmulator

DESCRIPTION = """\
Serve a loopback emulator of the Volcengine Ark API (chat completions, Context API,
Responses API) for trying the app without an Ark key. Replies are "Echo: <your message>";
a message containing "#tokens=N" gets an N-token reply instead.

Faults: --faults picks the kinds, and either --fault-rate (each model request fails with
that probability, the kind drawn at random) or --fault-count (the next N model requests
fail, taking the kinds in turn) says how often."""

REASONING = {"request": None, "on": True, "off": False}


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    emulator = ArkEmulator(
        api_key=args.key,
        ttft=args.ttft,
        token_delay=args.token_delay,
        host=args.host,
        port=args.port,
        seed=args.seed,
        reply_tokens=args.reply_tokens,
        output_limit=args.output_limit,
        reasoning=REASONING[args.reasoning],
        reject_concurrent_context_use=args.reject_concurrent_context_use,
        generic=args.generic,
        n_ctx=args.n_ctx,
        stores_responses=args.stores_responses,
        like=args.like,
        verbose=args.verbose,
    )
    try:
        plan_faults(emulator, args)
    except ValueError as error:
        parser.error(str(error))
    emulator.start()
    print(banner(emulator), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


def plan_faults(emulator: ArkEmulator, args: argparse.Namespace) -> None:
    """Apply --faults with --fault-rate or --fault-count."""
    kinds = args.faults or list(DEFAULT_RANDOM_KINDS)
    if not (args.fault_rate or args.fault_count) and (args.faults or args.fault_after_tokens):
        raise ValueError("--faults and --fault-after-tokens need --fault-rate or --fault-count")
    if args.fault_rate:
        emulator.random_faults(args.fault_rate, kinds, after_tokens=args.fault_after_tokens)
    elif args.fault_count:
        after_tokens = args.fault_after_tokens or 0
        for index in range(args.fault_count):
            emulator.fail_next(kinds[index % len(kinds)], after_tokens=after_tokens)


def banner(emulator: ArkEmulator) -> str:
    base_url = emulator.base_url
    if emulator.generic:
        size = (
            f"max_model_len at GET {base_url}/models"
            if emulator.like == "vllm"
            else f"n_ctx at GET {base_url.removesuffix('/v1')}/props"
        )
        return (
            f"Generic OpenAI-compatible emulator listening on {base_url}\n"
            f"Its context size is {size}; it serves the model {DEFAULT_MODEL}.\n"
            "Press Ctrl+C to stop."
        )
    return (
        f"Ark emulator listening on {base_url}\n"
        "Set these in the app's environment:\n"
        f"  export ARK_BASE_URL={base_url}\n"
        f"  export ARK_API_KEY={emulator.api_key}\n"
        "  export NO_PROXY=127.0.0.1,localhost\n"
        "  # the Context API needs an endpoint id, e.g. ARK_MODEL=ep-20250101000000-demo1\n"
        "Press Ctrl+C to stop."
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ark_emulator",
        description=DESCRIPTION,
        epilog=_fault_kinds_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_server_options(parser.add_argument_group("server"))
    _add_reply_options(parser.add_argument_group("replies"))
    _add_fault_options(parser.add_argument_group("faults"))
    return parser


def _add_server_options(group) -> None:
    group.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    group.add_argument("--port", type=int, default=8000, help="0 picks a free port (%(default)s)")
    group.add_argument(
        "--key", default="test-key", help="the API key clients must send (%(default)s)"
    )
    group.add_argument(
        "--generic",
        action="store_true",
        help="be a strict generic OpenAI-compatible server like llama.cpp's llama-server "
        "(/v1 routes, no Context API, nulls refused) instead of Ark",
    )
    group.add_argument(
        "--n-ctx",
        type=_positive_int,
        default=DEFAULT_N_CTX,
        metavar="N",
        help="context size reported at GET /props in --generic mode, which refuses "
        "longer prompts (%(default)s)",
    )
    group.add_argument(
        "--stores-responses",
        action="store_true",
        help="in --generic mode, store responses and chain them by previous_response_id "
        "(as vLLM can) instead of refusing it (as llama.cpp does)",
    )
    group.add_argument(
        "--like",
        choices=LIKE,
        default="llama.cpp",
        help="in --generic mode, report the context size as this server does: llama.cpp "
        "(n_ctx at GET /props) or vllm (no /props; max_model_len at GET /v1/models) "
        "(%(default)s)",
    )
    group.add_argument(
        "--reject-concurrent-context-use",
        action="store_true",
        help="answer 403 OperationDenied.InvalidState while a session context is in use",
    )
    group.add_argument("--verbose", action="store_true", help="log each request to stderr")


def _add_reply_options(group) -> None:
    group.add_argument(
        "--ttft",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="time to the first token (%(default)s)",
    )
    group.add_argument(
        "--token-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="time between tokens (%(default)s)",
    )
    group.add_argument(
        "--reply-tokens", type=_positive_int, metavar="N", help="give every reply N tokens"
    )
    group.add_argument(
        "--output-limit",
        type=_positive_int,
        metavar="N",
        help="the model's own output limit: cut every answer at N tokens (finish_reason "
        "length), so the app's Continue can be tried",
    )
    group.add_argument(
        "--reasoning",
        choices=tuple(REASONING),
        default="request",
        help="reason before answering: as the request's thinking.type asks (request, the "
        "default), always (on) or never (off)",
    )


def _add_fault_options(group) -> None:
    group.add_argument(
        "--faults",
        type=_fault_kinds,
        metavar="KINDS",
        help=f"comma-separated fault kinds (default {','.join(DEFAULT_RANDOM_KINDS)})",
    )
    how_often = group.add_mutually_exclusive_group()
    how_often.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        metavar="RATE",
        help="fail each model request with this probability, 0 to 1",
    )
    how_often.add_argument(
        "--fault-count",
        type=_positive_int,
        default=0,
        metavar="N",
        help="fail the next N model requests",
    )
    group.add_argument(
        "--fault-after-tokens",
        type=int,
        metavar="N",
        help="tokens sent before a reply fault strikes (default: 0 to 8 at random with "
        "--fault-rate, 0 with --fault-count)",
    )
    group.add_argument(
        "--seed", type=int, default=0, help="seed of the random faults (%(default)s)"
    )


def _fault_kinds_help() -> str:
    lines = [f"  {kind.value:<15} {FAULT_HELP[kind]}" for kind in Fault]
    return "fault kinds:\n" + "\n".join(lines)


def _fault_kinds(text: str) -> list[str]:
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    known = {kind.value for kind in Fault}
    unknown = [kind for kind in kinds if kind not in known]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown fault kind(s): {', '.join(unknown) or text}")
    return kinds


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


if __name__ == "__main__":
    main()

"""Run the emulator standalone: `python -m tests.emulators --port 8401 [--api-key K]`.

Prints `READY <port>` once listening (so scripts can wait for it) and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .server import API_BASE_PATHS, ProviderEmulator


async def _serve(args: argparse.Namespace) -> None:
    emulator = ProviderEmulator(
        api_key=args.api_key, models=args.model, hang_seconds=args.hang_seconds
    )
    port = await emulator.start(args.host, args.port)
    if args.verbose:
        for provider, path in API_BASE_PATHS.items():
            api_base = f"http://{args.host}:{port}" + path.format(account="emulator")
            print(f"{provider:>10}  {api_base}", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"READY {port}", flush=True)
    await stop.wait()
    await emulator.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulators", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8401, help="0 picks a free port")
    parser.add_argument("--api-key", help="require this key (default: accept any)")
    parser.add_argument(
        "--model", action="append", default=[], help="extra id for the model lists (repeatable)"
    )
    parser.add_argument(
        "--hang-seconds", type=float, default=300.0, help="cap for fault-silent / fault-stall"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print each api_base")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()

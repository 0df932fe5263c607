"""Command line: python -m metronome_sim --port 8090 [--host 127.0.0.1] [--run-seconds 1]."""
import argparse

import uvicorn

from .server import Sim, build_app


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m metronome_sim", description="Metronome /v1 jobs API simulator")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--run-seconds", type=float, default=1.0,
                        help="how long a run takes from its start to its end; 0 = as fast as possible")
    args = parser.parse_args(argv)
    if args.run_seconds < 0:
        parser.error("--run-seconds must be >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    uvicorn.run(build_app(Sim(run_seconds=args.run_seconds)), host=args.host, port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()

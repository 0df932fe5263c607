"""Command line: python -m marathon_sim --port 8080 [--host 127.0.0.1] [--step-seconds 1] [--snapshot FILE]."""
import argparse

from .server import Sim, run


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m marathon_sim", description="Marathon v2 API simulator")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--step-seconds", type=float, default=1.0,
                        help="time one deployment step (and a task start) takes; 0 = as fast as possible")
    parser.add_argument("--snapshot", help="JSON file keeping the apps across restarts")
    parser.add_argument("--credentials", help="user:password for HTTP basic auth (Marathon's --http_credentials)")
    parser.add_argument("--realm", default="Mesosphere", help="basic auth realm (Marathon's --http_realm)")
    parser.add_argument("--heartbeat-seconds", type=float, default=10.0,
                        help="idle time after which /v2/events writes a bare line break")
    parser.add_argument("--max-outstanding-events", type=int, default=1024,
                        help="events a subscriber may have waiting before it is dropped")
    parser.add_argument("--max-running-deployments", type=int, default=100)
    parser.add_argument("--agents", default="agent-1,agent-2,agent-3",
                        help="comma-separated agent host names tasks run on")
    args = parser.parse_args(argv)
    if args.step_seconds < 0:
        parser.error("--step-seconds must be >= 0")
    if args.credentials is not None and ":" not in args.credentials:
        parser.error("--credentials must be user:password")
    return args


def main(argv=None):
    args = parse_args(argv)
    sim = Sim(host=args.host, port=args.port, step_seconds=args.step_seconds, snapshot=args.snapshot,
              credentials=args.credentials, realm=args.realm, heartbeat_seconds=args.heartbeat_seconds,
              max_outstanding=args.max_outstanding_events, max_running_deployments=args.max_running_deployments,
              agents=tuple(a.strip() for a in args.agents.split(",") if a.strip()))
    run(sim, args.host, args.port)


if __name__ == "__main__":
    main()

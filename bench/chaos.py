"""Chaos run: the pipeline must end consistent with no operator action, whatever happens.

On a stack of its own (ports 8610-8622, state in `.local-stack-chaos/`, time
compressed by `--time-scale`), it completes generated sessions while:
- a share of them are invalid documents (`repCount: "lots"`);
- the fault proxy fails a share of BigQuery requests, and all of them for 10 s;
- the sync worker is killed (SIGKILL) twice and the retry worker once, each brought
  back within seconds by `session-sync local up`'s logic;
- the trigger is killed for a few seconds (the Firestore emulator drops the events);
- a share of the trigger's messages are published again verbatim (duplicates);
- BigQuery is down for 24 simulated hours (24 h x scale of real time) while the last
  sessions complete.

Then it waits, touching nothing, until every session settles, and checks: every
valid session exactly once in `sessions_latest` with the right pseudonym and
content, every invalid one recorded with its reason, no session left `failed` or
`pending` and no open episode, and `session-sync reconcile` exiting 0. The last
lines read `lost 0, duplicated 0, stuck 0, needed operator 0`, then the time and
the rate at which the episodes of the long outage drained.

Usage: python -m bench.chaos [--sessions 2000] [--time-scale 0.001] [--ci] [--json]
Exit 0 when everything holds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, replace
from datetime import timedelta

PORT_BASE = 8610
SIMULATED_OUTAGE = timedelta(hours=24)


@dataclass(frozen=True)
class Plan:
    """What the run does, and when (seconds from the start of the completions)."""

    sessions: int = 2000
    invalid_rate: float = 0.05
    fail_rate: float = 0.20
    outage_seconds: float = 10.0
    duplicate_rate: float = 0.10
    trigger_down_seconds: float = 3.0
    completion_seconds: float = 60.0  # 80 % of the sessions complete over this span
    time_scale: float = 0.001
    seed: int = 15

    @property
    def long_outage_seconds(self) -> float:
        return SIMULATED_OUTAGE.total_seconds() * self.time_scale


CI_PLAN = Plan(sessions=300, completion_seconds=20.0, time_scale=0.0005)


# Addresses a parent process may have exported for its own stack (the clients set them):
# inherited, they would point the chaos run at that stack.
INHERITED_HOSTS = (
    "FIRESTORE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "BIGQUERY_EMULATOR_HOST",
    "CLOUD_TASKS_EMULATOR_HOST",
    "RETRY_WORKER_URL",
)


def chaos_environment(plan: Plan) -> dict[str, str]:
    """The settings of the chaos stack: its own ports, state folder and time scale."""
    from shared.settings import LOCAL_PORTS

    ports = {name: str(PORT_BASE + default - 8510) for name, default in LOCAL_PORTS.items()}
    return {
        **ports,
        "PIPELINE_MODE": "local",
        "LOCAL_STACK_DIR": ".local-stack-chaos",
        "LOCAL_TIME_SCALE": repr(plan.time_scale),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, help="sessions to complete (default 2000)")
    parser.add_argument("--time-scale", type=float, help="time compression (default 0.001)")
    parser.add_argument("--ci", action="store_true", help="the CI-sized run (300 sessions)")
    parser.add_argument("--json", action="store_true", help="end with the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="leave the chaos stack running")
    parser.add_argument("--down", action="store_true", help="only stop the chaos stack")
    args = parser.parse_args(argv)
    plan = CI_PLAN if args.ci else Plan()
    if args.sessions:
        plan = replace(plan, sessions=args.sessions)
    if args.time_scale:
        plan = replace(plan, time_scale=args.time_scale)
    for name in INHERITED_HOSTS:
        os.environ.pop(name, None)
    os.environ.update(chaos_environment(plan))
    from bench.chaos_run import run_chaos, stop_chaos_stack

    if args.down:
        stop_chaos_stack()
        return 0
    figures = run_chaos(plan, keep=args.keep)
    if args.json:
        print(json.dumps(figures))
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

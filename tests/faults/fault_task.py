"""One task of the fault-injection campaign: logs its run, then behaves as asked."""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("kind")
parser.add_argument("--iteration", type=int, required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--marker", required=True)
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--hang-at", type=int, default=-1)
parser.add_argument("--kill-at", type=int, default=-1)
parser.add_argument("--flaky", action="store_true")
parser.add_argument("--wait-for", default="", help="hold until this file exists (at most 120 s)")
args = parser.parse_args()

with open(args.log, "a") as log:
    log.write(f"{args.kind} {args.iteration} {os.getpid()}\n")

if args.kind == "simulation" and args.iteration == args.hang_at:
    time.sleep(600)
if args.kind == "simulation" and args.iteration == args.kill_at:
    os.kill(os.getpid(), signal.SIGKILL)
if args.kind == "training" and args.flaky:
    attempts = Path(args.log + f".flaky{args.iteration}")
    seen = int(attempts.read_text()) if attempts.exists() else 0
    attempts.write_text(str(seen + 1))
    if seen == 0:
        print("transient failure: license server busy", file=sys.stderr)
        sys.exit(75)
deadline = time.monotonic() + 120
while args.wait_for and not os.path.exists(args.wait_for) and time.monotonic() < deadline:
    time.sleep(0.02)
time.sleep(args.sleep)
if args.kind == "criterion":
    print(f"mse {1.0 / (args.iteration + 1):.6f}")
    print(1.0 / (args.iteration + 1))
else:
    print(f"{args.kind} {args.iteration} done")

"""A tracker hung in a callback cannot keep the process alive, and the warning names the hook (issue 26, 7)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent('''
    import asyncio
    import sys
    import threading

    import rose
    from rose import Learner, Outcome, Step
    from rose.tracking import TrackerBase


    class Hangs(TrackerBase):
        def on_iteration(self, state):
            threading.Event().wait()  # never returns


    class One(Learner):
        async def evaluate(self, step: Step) -> Outcome:
            return Outcome(carry=await step.run("utility"))


    async def main():
        engine = await rose.engine("local")
        learner = One(engine, run_dir=sys.argv[1])

        @learner.utility_task(as_executable=False)
        async def noop():
            return 1

        learner.add_tracker(Hangs())
        await learner.start(max_iter=2)
        await engine.shutdown()
        print("campaign ended", flush=True)


    asyncio.run(main())
''')


def test_a_tracker_hung_in_on_iteration_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    script = tmp_path / "hang.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "ROSE_TRACKER_TIMEOUT": "1"}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "run")], capture_output=True, text=True,
                          env=env, timeout=50)  # before: joined at exit for 60 s
    assert done.returncode == 0, done.stderr
    assert "campaign ended" in done.stdout
    assert "tracker Hangs is still in on_iteration after" in done.stderr, done.stderr

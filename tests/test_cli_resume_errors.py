"""`rose run --resume` errors come first and clean: no claim of resuming, no traceback before them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    '''
    import asyncio
    import sys

    import rose

    async def main():
        async with rose.engine("local", max_workers=2) as engine:
            if sys.argv[1] == "al":
                from rose.al import SequentialActiveLearner

                learner = SequentialActiveLearner(engine, name="demo")
                kinds = ("simulation", "training", "active_learn")
            else:
                from rose.rl import SequentialReinforcementLearner

                learner = SequentialReinforcementLearner(engine, name="demo")
                kinds = ("environment", "update")
            for kind in kinds:
                async def task(*upstream):
                    return 1
                getattr(learner, f"{kind}_task")(as_executable=False)(task)
            await learner.start(max_iter=int(sys.argv[2]))

    asyncio.run(main())
    '''
)


def rose_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rose", "run", *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)


def test_resuming_a_campaign_of_another_learner_type_prints_the_error_first(tmp_path: Path) -> None:
    (tmp_path / "workflow.py").write_text(SCRIPT)
    assert rose_run(tmp_path, "workflow.py", "--", "al", "4").returncode == 0
    (campaign,) = (path for path in (tmp_path / "runs").iterdir() if not path.name.startswith("."))

    result = rose_run(tmp_path, "workflow.py", "--resume", campaign.name, "--", "rl", "6")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("rose run: workflow.py (overrides:")
    assert lines[1].startswith("rose run: RoseError: cannot resume") and "SequentialActiveLearner" in lines[1]
    assert "with a SequentialReinforcementLearner" in lines[1] and "start a new campaign" in lines[1]
    assert "Traceback" not in result.stderr and " resuming " not in result.stderr

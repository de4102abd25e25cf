"""Training (records its call); --fail makes it exit 3 with a message on stderr."""

import sys

from _record import option, record

record("train")
if option("--fail"):
    sys.stderr.write("training diverged: loss is nan\n")
    sys.exit(3)
print("trained")

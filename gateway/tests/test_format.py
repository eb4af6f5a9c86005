"""Every C source and header of the project is formatted with the repository's .clang-format
(clang-format 14, Debian 12's): the check a reviewer would otherwise do by hand.

usage: test_format.py SOURCE_ROOT
"""

import os
import shutil
import subprocess
import sys

DIRS = ("bench", "client", "common", "fixtures", "gateway", "imaging", "tools")


def sources(root):
    for sub in DIRS:
        for d, dirs, names in os.walk(os.path.join(root, sub)):
            dirs[:] = sorted(x for x in dirs if x != "node_modules" and not x.startswith("."))
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    yield os.path.join(d, n)


def main():
    root = sys.argv[1]
    tool = shutil.which("clang-format-14") or shutil.which("clang-format")
    if not tool:
        print("clang-format is not installed (scripts/lib.sh installs it)", file=sys.stderr)
        return 1
    files = list(sources(root))
    if len(files) < 50:
        print(f"only {len(files)} C files under {root}: wrong root?", file=sys.stderr)
        return 1
    p = subprocess.run([tool, "--dry-run", "--Werror", "--style=file", *files],
                       cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print(p.stdout[-4000:], file=sys.stderr)
        print(f"not clang-formatted (run: {os.path.basename(tool)} -i FILE)", file=sys.stderr)
        return 1
    print(f"{len(files)} files formatted")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The dependency rules of docs/architecture.md's map, checked on the source tree:

- gateway/http/ (the HTTP/2 protocol layer and the listener) includes no handler: of our headers
  only its own and the runtime ones named in HTTP_MAY_INCLUDE;
- gateway/db/ includes nothing of the gateway outside db/ (common/'s headers are allowed);
- imaging/ includes nothing of ours outside imaging/;
- no libpq query call outside gateway/db/;
- no C file under gateway/ is longer than 700 lines.

usage: test_layers.py SOURCE_ROOT
"""

import os
import re
import sys

HTTP_MAY_INCLUDE = {"gw_config.h", "gw_counts.h", "gw_error.h", "gw_log.h", "gw_loop.h", "gw_metrics.h"}
QUERY_CALLS = re.compile(r"\b(PQexec|PQexecParams|PQprepare|PQexecPrepared|PQsendQuery\w*|"
                         r"PQputCopyData|PQputCopyEnd|PQgetResult|PQnotifies|PQconsumeInput)\s*\(")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
MAX_LINES = 700


def sources(root, sub, exts=(".c", ".h")):
    for d, _, names in os.walk(os.path.join(root, sub)):
        for n in sorted(names):
            if n.endswith(exts):
                yield os.path.join(d, n)


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


def main():
    root = sys.argv[1]
    rel = lambda p: os.path.relpath(p, root)
    problems = []
    checked = 0

    http_own = {os.path.basename(p) for p in sources(root, "gateway/http")}
    for p in sources(root, "gateway/http"):
        checked += 1
        for inc in INCLUDE.findall(read(p)):
            if inc not in http_own and inc not in HTTP_MAY_INCLUDE:
                problems.append(f"{rel(p)} includes {inc}: the HTTP/2 layer includes no handler "
                                f"or application header")

    db_own = {os.path.basename(p) for p in sources(root, "gateway/db")}
    common = {os.path.basename(p) for p in sources(root, "common")}
    for p in sources(root, "gateway/db"):
        checked += 1
        for inc in INCLUDE.findall(read(p)):
            if inc not in db_own and inc not in common:
                problems.append(f"{rel(p)} includes {inc}: db/ depends on common/ only")

    imaging_own = {os.path.basename(p) for p in sources(root, "imaging")}
    for p in sources(root, "imaging"):
        if os.sep + "tests" + os.sep in p or os.sep + "fuzz" + os.sep in p:
            continue
        checked += 1
        for inc in INCLUDE.findall(read(p)):
            if inc not in imaging_own:
                problems.append(f"{rel(p)} includes {inc}: imaging/ uses nothing of ours")

    for sub in ("gateway", "common", "client", "bench", "tools"):
        for p in sources(root, sub, (".c",)):
            if rel(p).startswith("gateway" + os.sep + "db" + os.sep):
                continue
            checked += 1
            m = QUERY_CALLS.search(strip_comments(read(p)))
            if m:
                problems.append(f"{rel(p)} calls {m.group(1)}: SQL lives in gateway/db/")

    for p in sources(root, "gateway", (".c",)):
        n = read(p).count("\n")
        if n > MAX_LINES:
            problems.append(f"{rel(p)} has {n} lines (at most {MAX_LINES})")

    for line in problems:
        print("not ok:", line)
    print(f"{checked} files checked, {len(problems)} problems")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

"""Compile Python files to hash-based bytecode: run by a CPython of the *target's* version.

This file is executed as a script by another interpreter (``python3.12 -I -S _pycompile.py``),
never imported by lambda-wheels itself: it uses the standard library only and the syntax of
Python 3.9, the oldest Lambda runtime.

Input: the path of a JSON file (the only argument) holding a list of ``[source, pyc, shown]``
triples. ``shown`` is the path recorded in the code objects (``co_filename``): where the file
will be on Lambda (``/var/task/app.py``), not where it is on the build machine.

Each ``.pyc`` is an *unchecked* hash-based pyc (PEP 552): the interpreter loads it without
looking at the source's modification time, so it stays valid after the CDK CLI zips the asset
with fixed 1980 dates, and two builds write identical bytes.

Output (stdout): one JSON object, ``{"failed": [[source, message], ...]}``. A file that does not
compile (a template, a Python 2 module in a test folder) gets no ``.pyc``; if it is ever
imported, it fails on Lambda exactly as it would have without bytecode.
"""

import json
import os
import py_compile
import sys


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as fh:
        jobs = json.load(fh)
    failed = []
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    for source, pyc, shown in jobs:
        os.makedirs(os.path.dirname(pyc), exist_ok=True)
        try:
            py_compile.compile(source, pyc, shown, doraise=True, invalidation_mode=mode)
        except py_compile.PyCompileError as exc:
            failed.append([source, exc.msg.strip().splitlines()[-1][:300]])
    json.dump({"failed": failed}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

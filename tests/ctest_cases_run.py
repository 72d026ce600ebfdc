#!/usr/bin/env python3
"""Every ctest made from a doctest case must run that case.

doctest_discover_tests turns each TEST_CASE into a ctest whose command filters on the
name. A name with a ';' became two ctests (a CMake list splits there) whose filters
matched no case: doctest ran nothing and passed. Twenty tests ran that way, unnoticed,
until 2026-12-06. This test fails on any ctest whose --test-case= filter is not exactly
the name of a case in its executable.

usage: ctest_cases_run.py BUILD_DIR
"""
import json
import subprocess
import sys


def main() -> int:
    build = sys.argv[1]
    listing = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"],
                             capture_output=True, text=True, check=True).stdout
    cases_of = {}
    bad = []
    checked = 0
    for test in json.loads(listing)["tests"]:
        command = test.get("command") or []
        filters = [a for a in command[1:] if a.startswith("--test-case=")]
        if not filters:
            continue
        exe = command[0]
        if exe not in cases_of:
            out = subprocess.run([exe, "--list-test-cases", "--no-version"],
                                 capture_output=True, text=True, check=True).stdout
            cases_of[exe] = {line.strip() for line in out.splitlines()}
        # doctest_discover_tests escapes the commas of a name (',' separates filters).
        wanted = filters[0][len("--test-case="):].replace("\\,", ",")
        checked += 1
        if wanted not in cases_of[exe]:
            bad.append(f"{test['name']!r}: filter {wanted!r} names no case of {exe}")
    for line in bad:
        print(line)
    print(f"{checked} ctests checked, {len(bad)} run no case"
          + ("" if not bad else " (a ';' in a TEST_CASE name splits it: use ',')"))
    return 1 if bad or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Helpers of tests/kunit/run-kunit.sh, testable alone (tests/infra).

  kunit-results.py suites FILE...
      The names of the KUnit suites FILE... register: each variable given to
      kunit_test_suite()/kunit_test_suites(), resolved to the .name of its
      struct kunit_suite. A registered suite without a name is an error.
  kunit-results.py count JSON FILTER [EXPECTED...]
      Prints "PASS FAIL SKIP" for kunit.py's --json results: leaf tests
      (a parameterised test's parameters count one each, as kunit.py
      counts them); every EXPECTED suite that did not report is one more
      failure (not checked when FILTER is set).
"""
import json
import re
import sys

SUITE_DEF = re.compile(r'struct\s+kunit_suite\s+(\w+)\s*=\s*\{(.*?)\n\}\s*;', re.S)
SUITE_NAME = re.compile(r'\.name\s*=\s*"([^"]+)"')
REGISTER = re.compile(r'\bkunit_test_suites?\s*\(([^)]*)\)')


def suites(files):
    names = []
    for path in files:
        with open(path) as f:
            src = re.sub(r'/\*.*?\*/', '', f.read(), flags=re.S)
        defs = {}
        for var, body in SUITE_DEF.findall(src):
            m = SUITE_NAME.search(body)
            defs[var] = m.group(1) if m else None
        for args in REGISTER.findall(src):
            for arg in args.split(','):
                var = arg.strip().lstrip('&').strip()
                if not var:
                    continue
                if not defs.get(var):
                    sys.exit(f'{path}: registered suite {var} has no name')
                names.append(defs[var])
    return names


def count(path, filt, expected):
    with open(path) as f:
        top = json.load(f)
    n = {'PASS': 0, 'FAIL': 0, 'SKIP': 0}
    seen = set()

    def walk(group, depth):
        if depth == 1:
            seen.add(group['name'])
        for case in group['test_cases']:
            st = case['status'] if case['status'] in ('PASS', 'SKIP') else 'FAIL'
            n[st] += 1
            if st == 'FAIL':
                print('failed:', group['name'], case['name'], file=sys.stderr)
        for sub in group['sub_groups']:
            walk(sub, depth + 1)

    walk(top, 0)
    missing = [s for s in expected if s not in seen] if not filt else []
    for s in missing:
        print('suite did not run:', s, file=sys.stderr)
    print(n['PASS'], n['FAIL'] + len(missing), n['SKIP'])


if __name__ == '__main__':
    if len(sys.argv) >= 3 and sys.argv[1] == 'suites':
        print(' '.join(suites(sys.argv[2:])))
    elif len(sys.argv) >= 4 and sys.argv[1] == 'count':
        count(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)

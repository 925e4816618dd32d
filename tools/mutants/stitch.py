#!/usr/bin/env python3
"""Gives every mutant of the current code an outcome from the runs so far, and lists the ones to
(re-)run on the current code.

usage: stitch.py LIST RUNDIR... [--final FINALDIR]... [--rerun-file PATH]...
LIST: `cargo mutants --list` of the current code. RUNDIRs oldest first (cargo-mutants -o dirs).
A mutant is matched by file and description (lines move); a description that occurs more than
once in the current list is always re-run. The latest run that tested a description decides;
caught and unviable carry over, anything else (missed, timeout, never tested) is re-run.
Every mutant of a --rerun-file (a file whose behaviour changed since the runs) is re-run.
With --final, the final run's outcomes (on the current code) replace everything it tested; of
several final runs, a later one's replace an earlier one's.
"""
import re, sys, collections, json
args = sys.argv[1:]
finals = []
while '--final' in args:
    i = args.index('--final'); finals.append(args[i+1]); del args[i:i+2]
forced = set()
while '--rerun-file' in args:
    i = args.index('--rerun-file'); forced.add(args[i+1]); del args[i:i+2]
listfile, runs = args[0], args[1:]
pat = re.compile(r"^(.*?):(\d+):(\d+): (.*)$")
def key(line):
    m = pat.match(line.strip())
    return (m.group(1), m.group(4)) if m else None
cur = [key(l) for l in open(listfile) if key(l)]
mult = collections.Counter(cur)
def outcomes(d):
    out = {}
    for kind in ("caught", "missed", "timeout", "unviable"):
        try:
            for l in open(f"{d}/mutants.out/{kind}.txt"):
                k = key(l)
                if k: out.setdefault(k, []).append(kind)
        except FileNotFoundError:
            pass
    return out
latest = {}
for d in runs:
    for k, v in outcomes(d).items():
        latest[k] = (d, v)
fin = {}
for d in finals:
    # A later final run's outcome replaces an earlier one's for the mutants it tested.
    fin.update(outcomes(d))
counts = collections.Counter(); rerun = []; src = collections.Counter()
for k in sorted(set(cur)):
    c = mult[k]
    if k in fin:
        for kind in fin[k][:c]:
            counts[kind] += 1; src['final'] += 1
        # instances the final run did not see (should not happen)
        for _ in range(c - len(fin[k][:c])):
            counts['untested'] += 1
        continue
    if c == 1 and k[0] not in forced and k in latest and latest[k][1][-1] in ("caught", "unviable"):
        counts[latest[k][1][-1]] += 1; src[latest[k][0]] += 1
        continue
    rerun.append(k)
    counts['to-run'] += c
viable = sum(counts[x] for x in ("caught", "missed", "timeout", "to-run", "untested"))
print(json.dumps({"mutants": len(cur), "outcomes": counts, "from": src,
                  "viable": viable,
                  "caught/viable": round(100 * counts['caught'] / viable, 1) if viable else None,
                  "caught+timeout/viable": round(100 * (counts['caught'] + counts['timeout']) / viable, 1) if viable else None},
                 indent=1), file=sys.stderr)
def esc(s): return re.sub(r'([.^$*+?()\[\]{}|\\])', r'\\\1', s)
for f, desc in rerun:
    print("^" + esc(f) + r":\d+:\d+: " + esc(desc) + "$")

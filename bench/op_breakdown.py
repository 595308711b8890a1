#!/usr/bin/env python3
"""Sums a LibTorch profiler trace (profile_bench with CTRLFUSE_PROFILE_TRACE)
up by operator: each operator's exclusive time (its span minus the spans of
the operators it called), the calls, and its share of the traced time.

usage: op_breakdown.py TRACE.json [TOP]
"""
import collections
import json
import sys

events = json.load(open(sys.argv[1]))
events = events["traceEvents"] if isinstance(events, dict) else events
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
spans = collections.defaultdict(list)  # thread -> [(start, end, name)]
for e in events:
    if e.get("ph") == "X" and "dur" in e:
        spans[e.get("tid", 0)].append((float(e["ts"]), float(e["ts"]) + float(e["dur"]), e["name"]))

exclusive, calls = collections.Counter(), collections.Counter()
traced = 0.0
for tid, items in spans.items():
    items.sort(key=lambda s: (s[0], -s[1]))
    stack = []  # [start, end, name, child time]
    def close(frame):
        exclusive[frame[2]] += (frame[1] - frame[0]) - frame[3]
        calls[frame[2]] += 1
        if stack:
            stack[-1][3] += frame[1] - frame[0]
    for start, end, name in items:
        while stack and stack[-1][1] <= start:
            close(stack.pop())
        if not stack:
            traced += end - start
        stack.append([start, end, name, 0.0])
    while stack:
        close(stack.pop())

print(f"| operator | exclusive s | calls | of traced |\n|---|---|---|---|")
for name, us in exclusive.most_common(top):
    print(f"| {name} | {us / 1e6:.3f} | {calls[name]} | {100 * us / traced:.1f} % |")
print(f"| (traced, top-level spans of all threads) | {traced / 1e6:.3f} | | |")

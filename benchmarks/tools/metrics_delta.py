#!/usr/bin/env python3
"""Server-side split of a load run from two /metrics scrapes of the filter service.

usage: metrics_delta.py BEFORE.txt AFTER.txt
Prints, for the interval between the scrapes: count, mean and histogram-estimated p50/p99 of
conrec_filter_request_duration_seconds (handler time: request parsed -> response built) and of
conrec_store_operation_duration_seconds by operation (hot-path Redis reads), plus decisions by reason.
"""
import re
import sys
from collections import defaultdict

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def parse(path):
    out = {}
    for line in open(path):
        m = LINE.match(line.strip())
        if m:
            out[(m.group(1), m.group(2) or '')] = float(m.group(3))
    return out


def labels(s):
    return dict(re.findall(r'(\w+)="([^"]*)"', s))


def main(before_path, after_path):
    before, after = parse(before_path), parse(after_path)
    delta = {k: v - before.get(k, 0.0) for k, v in after.items()}

    def histogram(name, keep):
        series = defaultdict(lambda: {'buckets': [], 'sum': 0.0, 'count': 0.0})
        for (metric, lab), v in delta.items():
            if not metric.startswith(name):
                continue
            l = labels(lab)
            le = l.pop('le', None)
            if not keep(l):
                continue
            key = tuple(sorted(l.items()))
            if metric == name + '_bucket':
                series[key]['buckets'].append((float('inf') if le == '+Inf' else float(le), v))
            elif metric == name + '_sum':
                series[key]['sum'] = v
            elif metric == name + '_count':
                series[key]['count'] = v
        return series

    def quantile(buckets, q):
        buckets = sorted(buckets)
        total = buckets[-1][1] if buckets else 0
        if total <= 0:
            return float('nan')
        rank, prev_le, prev_n = q * total, 0.0, 0.0
        for le, n in buckets:
            if n >= rank:
                if le == float('inf'):
                    return prev_le
                return prev_le + (le - prev_le) * (rank - prev_n) / max(n - prev_n, 1e-12)
            prev_le, prev_n = le, n
        return prev_le

    for name in ('conrec_filter_request_duration_seconds', 'conrec_store_operation_duration_seconds'):
        for key, s in sorted(histogram(name, lambda l: True).items()):
            if s['count'] <= 0:
                continue
            print(f"{name}{dict(key)}: n={s['count']:.0f} mean={1000 * s['sum'] / s['count']:.3f} ms "
                  f"p50~{1000 * quantile(s['buckets'], 0.5):.3f} ms p99~{1000 * quantile(s['buckets'], 0.99):.3f} ms")
    reasons = defaultdict(float)
    for (metric, lab), v in delta.items():
        if metric == 'conrec_filter_decisions_total' and v > 0:
            reasons[labels(lab)['reason']] += v
    total = sum(reasons.values())
    if total:
        print('decisions: ' + ', '.join(f"{r} {100 * n / total:.2f}%" for r, n in sorted(reasons.items())))


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])

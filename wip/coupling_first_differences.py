"""Where two paired runs first differ (issue 12, item 4): the one-dwelling programme on metro 0.2.

For the baseline and the run with a single public rental 2-room dwelling in Kustvik (the
spread of scripts/coupling.py), prints the programme's own chain on its completion day, then
the first non-identical moves in day order -- each baseline move beside what the same
household does in the programme's run and who takes the baseline's destination there -- and
the number of households whose moves differ, week by week after the completion.

    python wip/coupling_first_differences.py [scale] [first]
"""
import sys

import numpy as np

sys.path.insert(0, "scripts")
import coupling as C  # noqa: E402

scale = float(sys.argv[1]) if len(sys.argv) > 1 else 0.2
first = int(sys.argv[2]) if len(sys.argv) > 2 else 40
base, run = C._probe_runs(scale, 2, 7, 1, {})


def rows(raw):
    _, r = C.move_keys(raw)
    return r  # household key, day, from key, to key


b, r = rows(base), rows(run)
done = run.dwellings_column("completed")[run.dwelling_key() >= C.PROGRAMME_KEY]
t0 = int(done.min())
print("completion day", t0 - base.window[0], "of the window; baseline moves", len(b), "programme's", len(r))
bset = set(map(tuple, b.tolist()))
rset = set(map(tuple, r.tolist()))
only_b = sorted((m for m in bset - rset), key=lambda m: m[1])
only_r = sorted((m for m in rset - bset), key=lambda m: m[1])
print("baseline moves not in the run", len(only_b), "; run moves not in the baseline", len(only_r))
print("run-only moves on the completion day:")
for m in only_r:
    if m[1] == t0:
        print("  ", m)
by_h_r = {}
for m in r.tolist():
    by_h_r.setdefault(m[0], []).append(m)
to_r = {}
for m in r.tolist():
    to_r.setdefault(m[3], []).append(m)
print(f"first {first} baseline moves not identical (hh, day, from, to) -> same household in run | who takes 'to' in run within 60 days")
for m in only_b[:first]:
    h, day, f, t = m
    same_h = [x for x in by_h_r.get(h, []) if abs(x[1] - day) <= 400]
    takers = [x for x in to_r.get(t, []) if abs(x[1] - day) <= 60]
    print(f"  d+{day - t0:4d} hh {h % 100000:5d} {f % 100000:6d}->{t % 100000:6d} | run: "
          + ", ".join(f"d+{x[1] - t0} {x[2] % 100000}->{x[3] % 100000}" for x in same_h[:3])
          + " | to taken: " + ", ".join(f"hh {x[0] % 100000} d+{x[1] - t0}" for x in takers[:3]))
# growth: distinct households with a differing move, by week after the completion
weeks = np.array([(m[1] - t0) // 7 for m in only_b + only_r])
hh = np.array([m[0] for m in only_b + only_r])
print("week: households with a differing move (cumulative)")
seen = set()
out = []
for w in range(0, 26):
    seen |= set(hh[weeks == w].tolist())
    out.append(f"{w}:{len(seen)}")
print(" ".join(out))

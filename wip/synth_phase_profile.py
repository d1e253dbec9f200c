"""Phase CPU-seconds of simulate() on metro scale 1, 10 years (wrappers around the driver's calls)."""
import sys, time, collections
import importlib; S = importlib.import_module("flyttkedja.synth.simulate")
from flyttkedja.synth import generate, load_config
T = collections.Counter()
def wrap(obj, name, label=None):
    f = getattr(obj, name)
    def g(*a, **k):
        c = time.process_time(); r = f(*a, **k); T[label or name] += time.process_time() - c; return r
    setattr(obj, name, g)
generate("tiny", years=1, seed=0)
class KW:  # proxy for S.K
    def __init__(s, k): s._k = k
    def __getattr__(s, n): return getattr(s._k, n)
kw = KW(S.K); S.K = kw
for n in ("year_start", "simulate_year"):
    f = getattr(S.K._k, n)
    def mk(f, n):
        def g(*a):
            c = time.process_time(); r = f(*a); T[n] += time.process_time() - c; return r
        return g
    setattr(kw, n, mk(f, n))
for n in ("initial_region", "new_builds", "arrivals", "_snapshot", "_compact_seekers", "_grow", "_observed_income"):
    wrap(S, n)
scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1
cfg = load_config("metro", years=10, scale=scale)
c0 = time.process_time(); w0 = time.perf_counter(); raw = S.simulate(cfg, 7)
tot = time.process_time() - c0; wall = time.perf_counter() - w0
print(f"moves {len(raw.moves)} total cpu {tot:.2f} wall {wall:.2f}")
for k, v in T.most_common(): print(f"  {k:20s} {v:6.2f}")
print(f"  other                {tot - sum(T.values()):6.2f}")

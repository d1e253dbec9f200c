"""Byte-identity check: sha256 of every output file of three synth runs.

Usage: python hashes.py OUTFILE   (writes JSON {run/relpath: sha256})
"""
import hashlib, json, os, subprocess, sys, tempfile, pathlib

RUNS = {
    "metro": (["--preset", "metro", "--scale", "1", "--years", "10", "--seed", "7"], "1"),
    "tiny1": (["--preset", "tiny", "--years", "3", "--seed", "7"], "1"),
    "tiny2": (["--preset", "tiny", "--years", "3", "--seed", "7"], "2"),
}
out = {}
with tempfile.TemporaryDirectory() as d:
    for name, (args, thr) in RUNS.items():
        o = pathlib.Path(d) / name
        env = dict(os.environ, NUMBA_NUM_THREADS=thr)
        subprocess.run(["flyttkedja", "synth", *args, "--out", str(o)], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        for p in sorted(o.rglob("*")):
            if p.is_file():
                out[f"{name}/{p.relative_to(o)}"] = hashlib.sha256(p.read_bytes()).hexdigest()
json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=True)
print(len(out), "files")

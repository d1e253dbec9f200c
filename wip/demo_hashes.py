"""sha256 of every file `flyttkedja demo --out DIR` writes, to compare two trees (session 15, issue 12 item 6).

    python wip/demo_hashes.py DIR > a.txt            # one line per file: sha256, size, relative path
    python wip/demo_hashes.py DIR_A DIR_B            # compare: prints differing/missing files, exit 1 if any

Run the demo on main and on a branch (same preset, scale, seed) and compare: a change that only
affects compilation must leave every byte alone (report.html included).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path


def hashes(root: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            out[str(p.relative_to(root))] = (hashlib.sha256(data).hexdigest(), len(data))
    return out


def main() -> int:
    a = hashes(Path(sys.argv[1]))
    if len(sys.argv) == 2:
        for k, (h, n) in a.items():
            print(h, n, k)
        return 0
    b = hashes(Path(sys.argv[2]))
    bad = 0
    for k in sorted(set(a) | set(b)):
        if a.get(k, (None,))[0] != b.get(k, (None,))[0]:
            bad += 1
            print("DIFFERS" if k in a and k in b else "MISSING", k, a.get(k), b.get(k))
    print(f"{len(set(a) & set(b))} files in both, {bad} differ or missing")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""The near-duplicate benchmark's peer: datasketch's MinHash and MinHashLSH on the same records.

    python bench/near_peer.py RECORDS OUT THRESHOLD NUM_PERM

RECORDS holds one record per line (UTF-8). Each record's shingles are its word 3-shingles, words being
maximal runs of ASCII letters and digits, lower-cased (a record of one or two words is one shingle),
as `bench/dataset.ts` counts them for exact Jaccard similarity. In record order each record's MinHash
is built, the LSH index queried, and the record inserted: the earliest candidate is the record it
duplicates (MinHashLSH does not confirm candidates). OUT receives one little-endian int32 per record:
that earlier record's index, or -1. Prints the timings as one JSON line.
"""

from __future__ import annotations

import json
import re
import sys
import time
from array import array

try:
    from datasketch import MinHash, MinHashLSH
except ImportError:  # pragma: no cover - a clear message instead of a bare traceback
    sys.stderr.write(
        "datasketch is not installed in trainer/.venv: run `npm run setup` "
        "(trainer/requirements-test.txt pins it)\n"
    )
    sys.exit(3)

WORD = re.compile(r"[a-z0-9]+")


def shingles(text: str) -> list[bytes]:
    words = WORD.findall(text.lower())
    if len(words) < 3:
        return [" ".join(words).encode()] if words else []
    return list({f"{words[i - 2]} {words[i - 1]} {words[i]}".encode() for i in range(2, len(words))})


def main() -> None:
    records_path, out_path, threshold, num_perm = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    with open(records_path, encoding="utf-8") as f:
        texts = f.read().split("\n")
    if texts and texts[-1] == "":
        texts.pop()

    t0 = time.perf_counter()
    sets = [shingles(t) for t in texts]
    t1 = time.perf_counter()
    # MinHash.bulk is datasketch's fastest way to build many sketches (numpy over the permutations).
    sketches = MinHash.bulk(sets, num_perm=num_perm)
    t2 = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    found = array("i", [-1]) * len(texts)
    for i, m in enumerate(sketches):
        if not sets[i]:
            continue
        candidates = lsh.query(m)
        if candidates:
            found[i] = min(candidates)
        lsh.insert(i, m, check_duplication=False)
    t3 = time.perf_counter()
    with open(out_path, "wb") as f:
        if sys.byteorder != "little":  # pragma: no cover
            found.byteswap()
        f.write(found.tobytes())
    print(
        json.dumps(
            {
                "records": len(texts),
                "shingle_s": t1 - t0,
                "minhash_s": t2 - t1,
                "lsh_s": t3 - t2,
                "total_s": t3 - t0,
                "bands": lsh.b,
                "rows": lsh.r,
            }
        )
    )


if __name__ == "__main__":
    main()

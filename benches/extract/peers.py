"""Peer extractors on the same emails as Harpoon's `cargo bench --bench extract` (scripts/bench-extract).

Each peer gets every file's raw bytes decoded as UTF-8 (errors replaced): what an analyst pastes
into a text extractor. None of them parses MIME, so they skip work Harpoon does (base64, QP, HTML,
attachments): the comparison flatters them. Prints one JSON line per peer: files, MB, seconds,
MB/s (wall, one process, one core), the worst file.
"""
import argparse
import json
import sys
import time


def peers():
    from ioc_finder import find_iocs
    import iocextract
    from iocsearcher.searcher import Searcher

    searcher = Searcher()
    return {
        "ioc-finder 9.4.1": lambda text: find_iocs(text),
        "iocsearcher 3.1.0": lambda text: searcher.search_data(text),
        "iocextract 1.16.1": lambda text: list(iocextract.extract_iocs(text, refang=True)),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=120.0, help="seconds per peer; stops after the file that crosses it")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    texts = []
    for path in args.files:
        with open(path, "rb") as f:
            raw = f.read()
        texts.append((path, len(raw), raw.decode("utf-8", errors="replace")))
    for name, run in peers().items():
        done, size, spent, worst, worst_name = 0, 0, 0.0, 0.0, ""
        for path, n, text in texts:
            t = time.perf_counter()
            run(text)
            dt = time.perf_counter() - t
            done, size, spent = done + 1, size + n, spent + dt
            if dt > worst:
                worst, worst_name = dt, path
            if spent > args.budget:
                break
        print(json.dumps({
            "peer": name, "files": done, "of": len(texts), "mb": size / 1e6, "seconds": spent,
            "mb_s": size / 1e6 / spent if spent else 0.0, "worst_ms": worst * 1e3, "worst": worst_name,
        }), flush=True)


if __name__ == "__main__":
    sys.exit(main())

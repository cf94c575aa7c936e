#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""kvm-image convert against qemu-img convert, side by side in one run.

Makes a reproducible corpus once (fixed seed): a disk of 8 GiB virtual size
with about 3 GiB written, mixing compressible text, binary-like data,
already-compressed (random) data, written zeros and holes; makes each
source format from it with qemu-img; then, for each case, runs qemu-img and
kvm-image alternately (--runs times each), and prints median times, peak
memory (RSS), the ratio qemu-img/kvm-image, whether the outputs have the
same content (qemu-img compare) and, for compressed outputs, their sizes.

Usage: bench/convert.py [--runs N] [--scale F] [--cache DIR] [--only CASE]
  --scale 0.1 makes a corpus a tenth the size, for a quick look.
"""
import argparse
import hashlib
import mmap
import os
import pathlib
import random
import statistics
import subprocess
import sys
import time

TOP = pathlib.Path(__file__).resolve().parent.parent
GIB = 1 << 30
MIB = 1 << 20
CORPUS_VERSION = 1

# (name, source, qemu-img arguments, kvm-image arguments, target ratio,
#  output-size limit as a multiple of qemu-img's or None)
CASES = [
    ("stream-vmdk->qcow2", "stream.vmdk", ["-O", "qcow2"], ["-O", "qcow2"], 3.0, None),
    ("stream-vmdk->raw", "stream.vmdk", ["-O", "raw"], ["-O", "raw"], 3.0, None),
    ("sparse-vmdk->qcow2", "sparse.vmdk", ["-O", "qcow2"], ["-O", "qcow2"], 1.5, None),
    ("2gb-sparse-vmdk->qcow2", "split.vmdk", ["-O", "qcow2"], ["-O", "qcow2"], 1.5, None),
    ("flat-vmdk->qcow2", "flat.vmdk", ["-O", "qcow2"], ["-O", "qcow2"], 1.3, None),
    ("sparse-vmdk->qcow2 -c", "sparse.vmdk", ["-O", "qcow2", "-c"], ["-O", "qcow2", "-c"], 1.8, 1.02),
    ("sparse-vmdk->qcow2 -c (qemu -m 16 -W)", "sparse.vmdk",
     ["-O", "qcow2", "-c", "-m", "16", "-W"], ["-O", "qcow2", "-c"], 1.3, 1.02),
    ("raw->stream-vmdk", "disk.raw", ["-O", "vmdk", "-o", "subformat=streamOptimized"],
     ["-O", "vmdk", "-o", "subformat=streamOptimized"], 3.0, 1.02),
]
RSS_LIMIT_MIB = 64


def regions(virtual_size):
    """(offset, length, kind) of the corpus: about 3/8 of the disk written,
    in runs of 1 to 63 MiB with holes between them."""
    rng = random.Random(20261128)
    kinds = ["text", "binary", "random", "zero"]
    out, offset = [], 16 * MIB
    while True:
        length = rng.randrange(1, 64) * MIB
        if offset + length > virtual_size - 16 * MIB:
            return out
        out.append((offset, length, kinds[rng.randrange(len(kinds))]))
        # Holes average 5/3 of the data before them: 3 GiB of 8 written.
        offset += length + rng.randrange(0, length * 10 // 3 // MIB + 1) * MIB


def block(kind, seed):
    """One MiB of data of the given kind; the same for the same seed."""
    rng = random.Random(seed)
    if kind == "zero":
        return bytes(MIB)
    if kind == "random":
        return rng.randbytes(MIB)
    if kind == "text":
        words = [rng.choice(["kvm", "guest", "disk", "the", "vmware", "cluster", "grain",
                             "convert", "qemu", "data", "host", "image", "byte", "of"])
                 for _ in range(2000)]
        text = (" ".join(words) + "\n").encode()
        return (text * (MIB // len(text) + 1))[:MIB]
    # binary-like: structured records with some entropy, as executables have
    record = bytearray()
    while len(record) < MIB:
        record += rng.randbytes(16) + bytes(48) + (len(record) & 0xFFFF).to_bytes(4, "little") * 4
    return bytes(record[:MIB])


def make_corpus(cache, virtual_size):
    raw = cache / "disk.raw"
    if raw.exists():
        return raw
    print(f"making the corpus in {cache} (once)", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    blocks = {kind: [block(kind, i * 7 + len(kind)) for i in range(8)]
              for kind in ("zero", "random", "text", "binary")}
    tmp = cache / "disk.raw.tmp"
    with open(tmp, "wb") as f:
        f.truncate(virtual_size)
        for n, (offset, length, kind) in enumerate(regions(virtual_size)):
            f.seek(offset)
            for i in range(length // MIB):
                f.write(blocks[kind][(n + i) % 8])
    tmp.rename(raw)
    return raw


def make_sources(cache, raw):
    formats = {
        "stream.vmdk": ["-O", "vmdk", "-o", "subformat=streamOptimized"],
        "sparse.vmdk": ["-O", "vmdk", "-o", "subformat=monolithicSparse"],
        "split.vmdk": ["-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse"],
        "flat.vmdk": ["-O", "vmdk", "-o", "subformat=monolithicFlat"],
    }
    for name, args in formats.items():
        if not (cache / name).exists():
            print(f"making {name} with qemu-img (once)", flush=True)
            subprocess.run(["qemu-img", "convert", "-f", "raw", *args, raw, cache / name],
                           check=True)
    # The same data in a 2 TiB disk: time must follow the data, not the size.
    huge = cache / "stream-2t.vmdk"
    if not huge.exists():
        print("making stream-2t.vmdk with qemu-img (once)", flush=True)
        huge_raw = cache / "disk-2t.raw"
        subprocess.run(["cp", "--sparse=always", raw, huge_raw], check=True)
        os.truncate(huge_raw, 2 << 40)
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                        "subformat=streamOptimized", huge_raw, huge], check=True)
        huge_raw.unlink()


def scaling_and_determinism(cache, out_dir, kvm_image, runs):
    """Issue 4's further targets: a 2 TiB disk holding the same data takes
    at most 1.3 times as long, and the output is the same for any -m."""
    results = []
    times = {}
    for name in ("stream.vmdk", "stream-2t.vmdk"):
        samples = []
        for _ in range(runs):
            drop_outputs(out_dir)
            samples.append(timed([kvm_image, "convert", "--no-progress", cache / name,
                                  out_dir / "out.qcow2"], cache)[0])
        times[name] = statistics.median(samples)
    ratio = times["stream-2t.vmdk"] / times["stream.vmdk"]
    results.append((f"2 TiB disk / 8 GiB disk, same data: {ratio:.2f}x "
                    f"({times['stream-2t.vmdk']:.2f}s / {times['stream.vmdk']:.2f}s)", ratio <= 1.3))
    digests = set()
    for threads in ("1", "2", "8"):
        drop_outputs(out_dir)
        out = out_dir / f"out-{threads}.qcow2"
        subprocess.run([kvm_image, "convert", "--no-progress", "-c", "-m", threads,
                        cache / "sparse.vmdk", out], check=True)
        digests.add(subprocess.run(["sha256sum", out], capture_output=True, text=True,
                                   check=True).stdout.split()[0])
    results.append(("-c output identical with -m 1, 2 and 8", len(digests) == 1))
    return results


def timed(argv, scratch):
    """Runs argv under GNU time; returns (seconds, peak RSS in MiB).  A
    child forked from Python would report Python's own RSS as its peak.
    What earlier runs left dirty is written out first, so that no run pays
    for the one before it."""
    report = scratch / "time.txt"
    os.sync()
    start = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-o", report, "-f", "%M",
                             *[str(a) for a in argv]], stdout=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(map(str, argv))} failed")
    rss = int(report.read_text().split()[-1]) / 1024
    report.unlink()
    return elapsed, rss


def flush_seconds(path):
    """How long making PATH durable takes: what qemu-img, which never
    flushes its output, leaves to do before the copy survives a crash."""
    start = time.monotonic()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.monotonic() - start


def disk_write_rate(folder):
    """Bytes per second this disk takes in direct 1 MiB writes of 1 GiB: a
    conversion whose output is on the disk when it ends cannot beat that,
    whatever its CPU does."""
    buf = mmap.mmap(-1, MIB)  # page-aligned, as O_DIRECT asks
    buf.write(b"\x5a" * MIB)
    path = folder / "rate.tmp"
    os.sync()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o600)
    try:
        start = time.monotonic()
        for i in range(1024):
            os.pwrite(fd, buf, i * MIB)
        os.fsync(fd)
        elapsed = time.monotonic() - start
    finally:
        os.close(fd)
        path.unlink()
    return GIB / elapsed


def drop_outputs(folder):
    for p in folder.iterdir():
        if p.is_file():
            p.unlink()


def run_case(case, cache, out_dir, kvm_image, runs, rate):
    name, source, qemu_args, our_args, target, size_limit = case
    src = cache / source
    ext = "vmdk" if "vmdk" in our_args else ("raw" if "raw" in our_args else "qcow2")
    theirs, ours = out_dir / f"qemu.{ext}", out_dir / f"ours.{ext}"
    times_q, times_qf, times_k, rss_q, rss_k = [], [], [], [], []
    for _ in range(runs):
        drop_outputs(out_dir)
        t, m = timed(["qemu-img", "convert", *qemu_args, src, theirs], cache)
        times_q.append(t)
        times_qf.append(t + flush_seconds(theirs))
        rss_q.append(m)
        t, m = timed([kvm_image, "convert", "--no-progress", *our_args, src, ours], cache)
        times_k.append(t)
        rss_k.append(m)
    same = subprocess.run(["qemu-img", "compare", "-q", theirs, ours]).returncode == 0
    size_ratio = ours.stat().st_size / theirs.stat().st_size if size_limit else None
    floor = ours.stat().st_blocks * 512 / rate
    ratio = statistics.median(times_q) / statistics.median(times_k)
    met = ratio >= target and same and max(rss_k) <= RSS_LIMIT_MIB and \
        (size_limit is None or size_ratio <= size_limit)
    return {
        "case": name, "qemu": statistics.median(times_q), "ours": statistics.median(times_k),
        "ratio": ratio, "ratio_flushed": statistics.median(times_qf) / statistics.median(times_k),
        "target": target, "rss_qemu": max(rss_q), "rss_ours": max(rss_k),
        "same": same, "size_ratio": size_ratio, "met": met, "floor": floor,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--cache", type=pathlib.Path,
                        default=pathlib.Path(os.environ.get("XDG_CACHE_HOME",
                                                            pathlib.Path.home() / ".cache"))
                        / "kvm-bundle" / "bench")
    parser.add_argument("--build", type=pathlib.Path, default=TOP / "build")
    parser.add_argument("--only", action="append", help="run only cases whose name has this")
    args = parser.parse_args()

    kvm_image = args.build / "image-tools" / "cli" / "kvm-image"
    if not kvm_image.exists():
        sys.exit(f"bench: {kvm_image} is missing; run make first")
    key = hashlib.sha256(f"{CORPUS_VERSION} {args.scale}".encode()).hexdigest()[:12]
    cache = args.cache / f"corpus-{key}"
    virtual = int(8 * GIB * args.scale) // MIB * MIB
    raw = make_corpus(cache, virtual)
    make_sources(cache, raw)

    out_dir = cache / "out"
    out_dir.mkdir(exist_ok=True)
    cases = [c for c in CASES if not args.only or any(o in c[0] for o in args.only)]
    rate = disk_write_rate(out_dir)
    print(f"this disk writes {rate / 1e6:.0f} MB/s with direct I/O; \"floor\" is the time it "
          "takes to write kvm-image's output so")
    # kvm-image's output is on disk when it exits; "durable" compares with
    # qemu-img followed by an fsync of its output, which it never does.
    print(f"\n{'case':42} {'qemu-img':>9} {'kvm-image':>9} {'ratio':>6} {'target':>6} "
          f"{'durable':>7} {'floor':>6} {'RSS q/k MiB':>12} {'same':>5} {'size':>6}  met")
    results = []
    for case in cases:
        r = run_case(case, cache, out_dir, kvm_image, args.runs, rate)
        results.append(r)
        size = f"{r['size_ratio']:.3f}" if r["size_ratio"] else "-"
        print(f"{r['case']:42} {r['qemu']:8.2f}s {r['ours']:8.2f}s {r['ratio']:6.2f} "
              f"{r['target']:6.1f} {r['ratio_flushed']:7.2f} {r['floor']:5.2f}s "
              f"{r['rss_qemu']:5.0f}/{r['rss_ours']:<6.0f} "
              f"{'yes' if r['same'] else 'NO':>5} {size:>6}  {'yes' if r['met'] else 'NO'}",
              flush=True)
    checks = [] if args.only else scaling_and_determinism(cache, out_dir, kvm_image, args.runs)
    for text, ok in checks:
        print(f"{text:80} {'yes' if ok else 'NO'}")
    drop_outputs(out_dir)
    met = sum(r["met"] for r in results) + sum(ok for _, ok in checks)
    total = len(results) + len(checks)
    print(f"\n{met} of {total} targets met ({args.runs} runs each, "
          f"{os.cpu_count()} CPUs, corpus scale {args.scale})")
    return 0 if met == total else 1


if __name__ == "__main__":
    sys.exit(main())

"""Cost of FID/KID evaluation on this machine: seconds and peak memory per 1000 images, per extractor.

    python scripts/bench_eval.py [--images 1000] [--size 256] [--extractors inception,toy_scenes,digits]

Each extractor runs in its own process (so its peak memory is its own), on generated images written to a
temporary folder, through the same code as ``gantool eval fid,kid``: reading the files, the extractor's
features, then FID and KID (100 subsets of up to 1000). The Inception network is randomly initialised
here (the cost does not depend on the weights, and the benchmark needs no download). Prints one line per
extractor; ``--threads`` sets torch's threads.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout


def _write_images(folder: str, count: int, size: int, seed: int) -> None:
    import numpy as np
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        # Smooth random pictures (a coarse random grid, enlarged) compress like photos, unlike white noise.
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(coarse).resize((size, size), Image.BILINEAR).save(os.path.join(folder, f"{i:05d}.png"))


def _measure(extractor: str, real: str, fake: str, threads: int) -> dict:
    """In this process: load, extract both sets, score; returns seconds and peak memory."""
    import resource

    import torch

    from gantool.metrics.distribution_eval import DistributionScorer
    from gantool.metrics.image_sets import list_images

    torch.set_num_threads(threads)
    if extractor == "inception":
        from gantool.metrics.inception import FIDInceptionV3

        net = FIDInceptionV3().eval().requires_grad_(False)
    else:
        from gantool.metrics.extractors import load_extractor

        net = load_extractor(extractor)
    scorer = DistributionScorer(net, cache=False, log=lambda m: None)
    start = time.perf_counter()
    real_f = scorer.features_of_files(list_images(real))
    fake_f = scorer.features_of_files(list_images(fake))
    features_s = time.perf_counter() - start
    start = time.perf_counter()
    scorer.scores(real_f, fake_f)
    stats_s = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"extractor": scorer.name, "images": len(real_f) + len(fake_f), "features_s": features_s,
            "extractor_s": scorer.seconds, "stats_s": stats_s, "peak_mib": peak_mib}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000, help="images per set (real and generated)")
    parser.add_argument("--size", type=int, default=256, help="image width and height")
    parser.add_argument("--extractors", default="inception,toy_scenes,digits")
    parser.add_argument("--threads", type=int, default=torch_threads())
    parser.add_argument("--_measure", nargs=3, help=argparse.SUPPRESS)
    opt = parser.parse_args(argv)
    if opt._measure:
        print(json.dumps(_measure(*opt._measure, opt.threads)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        real, fake = os.path.join(tmp, "real"), os.path.join(tmp, "fake")
        _write_images(real, opt.images, opt.size, 1)
        _write_images(fake, opt.images, opt.size, 2)
        print(f"{opt.images} + {opt.images} images of {opt.size}x{opt.size}, {opt.threads} thread(s), "
              f"{cpu_name()}")
        for extractor in opt.extractors.split(","):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--threads", str(opt.threads),
                                  "--_measure", extractor, real, fake], capture_output=True, text=True)
            if out.returncode:
                print(f"{extractor}: failed: {out.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            per_k = 1000 / r["images"]
            print(f"{r['extractor']:<42} {r['features_s'] * per_k:7.1f} s per 1000 images (extractor "
                  f"{r['extractor_s'] * per_k:.1f} s, the rest reading files); FID+KID {r['stats_s']:.1f} s; "
                  f"peak memory {r['peak_mib']:.0f} MiB")
    return 0


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())

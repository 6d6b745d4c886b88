"""Media benchmark: the same transcode by raw ffmpeg and by `oca media transcode`, one run.

The source (1280x720 H.264/AAC, generated with lavfi) is transcoded to H.264/AAC at half
size. Raw: one `ffmpeg` command. oca: the whole CLI call against the warm embedded default
(local ffmpeg backend): CLI start-up, staging, probe, pipeline, progress polling and the copy
of the result. Rounds alternate raw/oca; medians are compared. Goal: raw/oca >= 0.97.
The untimed warm-up probes the source first (as a user would): the backend then reuses that
ffprobe result for the transcodes (its cache is keyed by the file's identity).

    .venv/bin/python bench/media.py [--seconds 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OCA = [sys.executable, "-m", "oca"]
SCALE = "trunc(iw*0.5/2)*2:trunc(ih*0.5/2)*2"


def run(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, cwd=ROOT)
    elapsed = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr.decode()[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=40, help="length of the source clip")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="oca-bench-media-"))
    env = {**os.environ, "OCA_HOME": str(work / "home")}
    src = work / "source.mp4"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=1280x720:rate=25:duration={a.seconds}", "-f", "lavfi",
                    "-i", f"sine=frequency=440:duration={a.seconds}", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                    str(src)], check=True)
    raw_dir, oca_dir = work / "raw", work / "oca"
    raw_dir.mkdir()
    oca_dir.mkdir()
    raw = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(src),
           "-vf", f"scale={SCALE}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
           "-c:a", "aac", str(raw_dir / "source.mp4")]
    via_oca = [*OCA, "media", "transcode", str(src), "--to", "mp4", "--vcodec", "libx264",
               "--acodec", "aac", "--scale", "0.5", "--preset", "veryfast", "--crf", "23",
               "--output-dir", str(oca_dir), "--overwrite"]

    cold = run([*OCA, "media", "probe", str(src)], env)  # starts the embedded default
    warm_probe = run([*OCA, "media", "probe", str(src)], env)
    raws, ocas, floors = [], [], []
    try:
        for _ in range(a.rounds):
            raws.append(run(raw, env))
            ocas.append(run(via_oca, env))
            floors.append(run([*OCA, "version"], env))  # the CLI's own start-up
    finally:
        subprocess.run([*OCA, "service", "rm", "media-default"], env=env, capture_output=True,
                       cwd=ROOT)
    r, o = statistics.median(raws), statistics.median(ocas)
    rmin, omin = min(raws), min(ocas)
    print(f"source: {a.seconds} s 1280x720 H.264/AAC -> H.264/AAC 640x360 (veryfast, crf 23)")
    print(f"first call (starts the local backend, probe): {cold:.3f} s; warm probe: "
          f"{warm_probe:.3f} s")
    print(f"raw ffmpeg:          {', '.join(f'{x:.3f}' for x in raws)}  median {r:.3f} s")
    print(f"oca media transcode: {', '.join(f'{x:.3f}' for x in ocas)}  median {o:.3f} s")
    print(f"best runs (least disturbed by other load): raw {rmin:.3f} s, oca {omin:.3f} s, "
          f"ratio {rmin / omin:.3f}")
    floor = statistics.median(floors)
    print(f"overhead: {o - r:+.3f} s, of which `oca version` (CLI start-up alone) "
          f"{floor:.3f} s and the media path {o - r - floor:+.3f} s")
    print(f"ratio raw/oca = {r / o:.3f} (medians; goal >= 0.97)")


if __name__ == "__main__":
    main()

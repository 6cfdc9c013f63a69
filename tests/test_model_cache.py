"Fault tests of the model cache: processes converting at once, and a clean cache afterwards."
import os, subprocess, sys
from pathlib import Path
import pytest

def _convert_in_parallel(cache: Path, fn: str, n: int = 2):
    "Start `n` processes that each resolve (and so convert) a cached model into `cache`, at the same moment."
    code = (f"from stateset_agents.core import models as m; p = m.{fn}(); "
            "from transformers import AutoTokenizer; AutoTokenizer.from_pretrained(p); print('CACHE_PATH=' + str(p))")
    env = {**os.environ, "STATESET_AGENTS_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs): assert p.returncode == 0, err[-2000:]
    # only our marked line: a library may print to stdout too (deepspeed, when installed, announces its accelerator)
    return [next(l for l in out.splitlines() if l.startswith("CACHE_PATH=")).removeprefix("CACHE_PATH=") for out, _ in outs]

def test_two_processes_convert_tokenizer(tmp_path):
    paths = _convert_in_parallel(tmp_path, "smollm2_tokenizer_dir")
    assert len(set(paths)) == 1 and Path(paths[0]).name == "SmolLM2-135M-Instruct-tokenizer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SmolLM2-135M-Instruct-tokenizer", "SmolLM2-135M-Instruct-tokenizer.lock"]

@pytest.mark.slow
def test_two_processes_convert_model(tmp_path):
    "Two processes converting the default model at once leave one complete, loadable cache entry."
    paths = _convert_in_parallel(tmp_path, "smollm2_dir")
    final = Path(paths[0])
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    code = ("import sys, torch; from transformers import AutoModelForCausalLM; "
            f"m = AutoModelForCausalLM.from_pretrained({str(final)!r}); "
            "assert sum(p.numel() for p in m.parameters()) == 134_515_008")
    subprocess.run([sys.executable, "-c", code], check=True)

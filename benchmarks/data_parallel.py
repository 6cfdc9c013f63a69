"""What `torchrun` buys on this machine: the same training run in one process and in two, timed in the same run.

    python benchmarks/data_parallel.py                      # SmolLM2-135M-Instruct, 6 steps, 4 prompts x 4 replies
    python benchmarks/data_parallel.py --model-name tiny --max-steps 3   # a quick check
    python benchmarks/data_parallel.py --sampler exact                    # rollouts from the float32 policy

Both runs are `stateset-agents train` with the library's defaults except the batch (4 prompts a step, so each of two
processes rolls out 2 whole groups) and no held-out evaluation: one process (threads from the free cores), then
`torchrun --nproc_per_node 2` (each process takes its share of the free cores). We report the median step time after
the first step (warm-up), the speed-up, for how many steps the two runs sampled the same rewards, and how far their
final LoRA weights are apart. They are the same run up to float rounding. Measured on 2 cores with the real model they
sampled different replies from the first step: matrix products over other batch shapes and thread counts round
differently, and at temperature 1 the cumulative probabilities of the many unlikely tokens lie closer together than
that rounding, so a draw that lands among them takes a neighbouring token (one process at one thread and at two
differ the same way). The tests in tests/test_distributed.py compare on the tiny model, whose logits are bitwise equal.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

from safetensors.torch import load_file

def run(args: list[str], procs: int) -> float:
    "Run `stateset-agents ARGS` in `procs` processes; return its wall seconds."
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)] if procs > 1 else [sys.executable]
    t0 = time.perf_counter()
    subprocess.run([*launch, "-m", "stateset_agents", *args], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0

def metrics(out: Path) -> list[dict]: return [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]

def step_seconds(out: Path) -> float:
    "Median `time/step_seconds` of a run, its first step left out."
    return statistics.median(m["time/step_seconds"] for m in metrics(out)[1:])

def same_steps(a: Path, b: Path) -> int:
    "How many first steps of two runs sampled exactly the same rewards."
    return next((i for i, (x, y) in enumerate(zip(metrics(a), metrics(b))) if x["train/reward"] != y["train/reward"]), len(metrics(a)))

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-name", default="SmolLM2-135M-Instruct")
    p.add_argument("--max-steps", type=int, default=6)
    p.add_argument("--sampler", default="int4", help="int4 (the default) or exact")
    a = p.parse_args()
    common = ["train", "--model-name", a.model_name, "--max-steps", str(a.max_steps), "--prompts-per-step", "4", "--sampler", a.sampler,
              "--no-evaluate-policy", "--no-progress", "--save-steps", str(a.max_steps)]
    with tempfile.TemporaryDirectory() as d:
        outs = {n: Path(d) / f"procs{n}" for n in (1, 2)}
        wall = {n: run([*common, "--output-dir", str(outs[n])], n) for n in (1, 2)}
        step = {n: step_seconds(outs[n]) for n in (1, 2)}
        w1, w2 = (load_file(str(outs[n] / "checkpoint-final" / "trainable.safetensors")) for n in (1, 2))
        diff = max((w1[k] - w2[k]).abs().max().item() for k in w1)
        same = same_steps(outs[1], outs[2])
    for n in (1, 2): print(f"{n} process{'es' if n > 1 else ''}: median step {step[n]:.2f} s, whole run {wall[n]:.0f} s")
    print(f"speed-up of 2 processes: {step[1] / step[2]:.2f}x a step, {wall[1] / wall[2]:.2f}x the whole run; "
          f"the same rewards in the first {same} of {a.max_steps} steps; final weights differ by at most {diff:.1e}")

if __name__ == "__main__": main()

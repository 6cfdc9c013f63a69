"""Does the default training run learn? Held-out mean reward before and after it, over several seeds.

    python benchmarks/learning.py                 # the README's default run (SmolLM2-135M-Instruct), seeds 0 1 2
    python benchmarks/learning.py --seeds 0 --max-steps 5 --model-name tiny   # a quick smoke run
    python benchmarks/learning.py --sampler exact      # rollouts from the float32 policy instead of the default sampler

Each seed runs `stateset_agents.training.train.train("grpo")` with the library's defaults (only the seed and output
folder change). The held-out evaluation samples every test-split scenario several times with a fixed sampling seed,
so "before" is the same for every seed. We report each seed's gain, the mean gain, and the spread (the sample
standard deviation of the gains across seeds); the target is mean gain > 2 x spread.
"""
import argparse, json, statistics, time
from pathlib import Path

from stateset_agents.training.train import train

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--model-name", default=None, help="default: the library's default policy")
    p.add_argument("--max-steps", type=int, default=None, help="default: the library's default")
    p.add_argument("--sampler", default=None, help="exact or int4 (default: the library's default)")
    p.add_argument("--output-dir", default="runs/benchmark_learning")
    a = p.parse_args()
    rows = []
    for seed in a.seeds:
        t0 = time.perf_counter()
        res = train("grpo", seed=seed, output_dir=f"{a.output_dir}/seed{seed}", progress=False, overwrite=True,
                    model_name=a.model_name, max_steps=a.max_steps, sampler=a.sampler)
        before, after = res["evals"]["before"]["eval/reward"], res["evals"]["after"]["eval/reward"]
        rows.append({"seed": seed, "before": before, "after": after, "gain": after - before,
                     "minutes": (time.perf_counter() - t0) / 60, "steps": len(res["history"])})
        print(f"seed {seed}: held-out reward {before:.4f} -> {after:.4f} (gain {after - before:+.4f}) in {rows[-1]['minutes']:.1f} min", flush=True)
    gains = [r["gain"] for r in rows]
    mean = statistics.mean(gains)
    spread = statistics.stdev(gains) if len(gains) > 1 else float("nan")
    print(f"mean gain {mean:+.4f}, seed spread (std of gains) {spread:.4f}, ratio {mean / spread if spread else float('nan'):.2f} (target > 2)")
    Path(a.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(a.output_dir) / "summary.json").write_text(json.dumps({"runs": rows, "mean_gain": mean, "spread": spread}, indent=2))

if __name__ == "__main__": main()

"""The design's flow with the real default model: collect, learn the scorer, train GRPO against the learned reward, judge
with the scorer as a check reward never optimised. Runs the tutorial notebook `nbs/29_tutorial.learned_reward.ipynb` headless
(papermill) with measured-run parameters and prints the figures the README quotes.

    python benchmarks/learned_reward.py            # SmolLM2-135M-Instruct, seeds 0 1 2, 50 steps each (~40 min on 2 cores)
    python benchmarks/learned_reward.py --model-name tiny --max-steps 2 --seeds 0   # a one-minute smoke run
"""
import argparse, json, statistics, time
from pathlib import Path
import papermill as pm

ROOT = Path(__file__).resolve().parents[1]

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-name", default="SmolLM2-135M-Instruct")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--max-steps", type=int, default=50)
    p.add_argument("--samples-per-scenario", type=int, default=8)
    p.add_argument("--eval-steps", type=int, default=5)
    p.add_argument("--eval-samples", type=int, default=4)
    p.add_argument("--output-dir", default=str(ROOT / "runs" / "benchmark_learned_reward"))
    a = p.parse_args()
    out = Path(a.output_dir); out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    pm.execute_notebook(str(ROOT / "nbs" / "29_tutorial.learned_reward.ipynb"), str(out / "executed.ipynb"), kernel_name="python3", language="python",
                        cwd=str(ROOT / "nbs"), progress_bar=False,
                        parameters=dict(model_name=a.model_name, samples_per_scenario=a.samples_per_scenario, max_new_tokens=48,
                                        seeds=a.seeds, max_steps=a.max_steps, eval_steps=a.eval_steps, eval_samples=a.eval_samples,
                                        output_dir=str(out)))
    s = json.loads((out / "summary.json").read_text())
    ag = s["agreement"]
    print(f"reward model vs scorer on {ag['num_test']} held-out conversations: Spearman {ag['spearman']:+.3f} "
          f"(Pearson {ag['pearson']:+.3f}; length-only baseline {ag['length_baseline_spearman']:+.3f})")
    for r in s["runs"]:
        print(f"seed {r['seed']}: check reward {r['check_before']:.3f} -> {r['check_after']:.3f} ({r['check_after'] - r['check_before']:+.3f}); "
              f"learned reward {r['learned_before']:.3f} -> {r['learned_after']:.3f}")
    gains = [r["check_after"] - r["check_before"] for r in s["runs"]]
    spread = statistics.stdev(gains) if len(gains) > 1 else float("nan")
    ratio = statistics.mean(gains) / spread if spread > 0 else float("nan")
    print(f"mean check gain {statistics.mean(gains):+.3f}, spread (std of gains) {spread:.3f}, gain/spread {ratio:.1f}")
    print(f"reward-gaming alerts: {sum(len(v) for v in s['gaming_alerts'].values())} ({s['gaming_alerts']})")
    print(f"{(time.perf_counter() - t0) / 60:.1f} min in all")

if __name__ == "__main__": main()

"""Every algorithm on the same task and wall-clock budget: held-out reward gain, its seed spread, time per step.

    python benchmarks/algorithms.py                       # SmolLM2-135M-Instruct, seeds 0 1, 3 minutes of training each
    python benchmarks/algorithms.py --model-name tiny --budget-minutes 0.1 --seeds 0   # a smoke run in a few minutes

For each algorithm (GRPO, GSPO, DAPO, Dr. GRPO, PPO, VAPO, A2C, DPO from reward-ranked rollouts) a two-step probe
measures its seconds per step; the budget divided by that gives its `max_steps`, so every algorithm trains for about
the same wall-clock time with a complete learning-rate schedule. Then the training notebook
(`nbs/24_tutorial.train_customer_service.ipynb`) runs headless under papermill per algorithm and seed, with the
library's defaults for everything else (same scenarios, same reward, same held-out evaluation). Every executed notebook
is kept; the table (CSV, JSON, markdown) and a plotly figure collect held-out reward gain, its spread across seeds
(sample standard deviation), and the median seconds per step. A difference between two algorithms is only called one
when it exceeds both algorithms' seed spreads.
"""
import argparse, json, statistics, time
from pathlib import Path

import papermill as pm

ROOT = Path(__file__).resolve().parents[1]
ALGORITHMS = {  # name in the table -> (algorithm, extra config fields)
    "GRPO": ("grpo", {}), "GSPO": ("gspo", {}), "DAPO": ("dapo", {}), "Dr. GRPO": ("grpo", {"loss_type": "dr_grpo"}),
    "PPO": ("ppo", {}), "VAPO": ("vapo", {}), "A2C": ("a2c", {}), "DPO": ("dpo", {}),
}

def seconds_per_step(algorithm: str, config: dict, model_name: str, out: Path, steps: int = 2) -> float:
    "The last of `steps` probe steps' wall time (the first warms up), training only."
    from stateset_agents.training.train import train
    res = train(algorithm, model_name=model_name, max_steps=steps, output_dir=str(out), progress=False, overwrite=True,
                evaluate_policy=False, **config, **({"value_warmup_steps": 1} if algorithm == "vapo" else {}))
    return res["history"][-1]["time/step_seconds"]

def run(name: str, algorithm: str, config: dict, seed: int, max_steps: int, model_name: str, out: Path) -> dict:
    "Run the training notebook once; its row of the table (failed=True when a cell raised)."
    run_dir, nb = out / "runs" / f"{algorithm}-{name.replace(' ', '').replace('.', '')}-seed{seed}", out / "notebooks" / f"{name.replace(' ', '_')}-seed{seed}.ipynb"
    nb.parent.mkdir(parents=True, exist_ok=True)
    if algorithm == "vapo": config = {"value_warmup_steps": max(1, max_steps // 10), **config}  # the paper warms up 50 of ~5000 steps; 1 in 10 here
    t0 = time.perf_counter()
    row = {"algorithm": name, "seed": seed, "max_steps": max_steps, "notebook": str(nb.relative_to(out))}
    try:
        pm.execute_notebook(str(ROOT / "nbs" / "24_tutorial.train_customer_service.ipynb"), str(nb), kernel_name="python3", language="python",
                            cwd=str(ROOT / "nbs"), progress_bar=False,
                            parameters=dict(model_name=model_name, max_steps=max_steps, seed=seed, output_dir=str(run_dir),
                                            algorithm=algorithm, config=config))
    except pm.PapermillExecutionError as e:
        return {**row, "failed": True, "error": f"{e.ename}: {e.evalue}"[:300], "minutes": (time.perf_counter() - t0) / 60}
    ev = json.loads((run_dir / "evaluation.json").read_text())
    hist = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {**row, "failed": False, "before": ev["before"]["eval/reward"], "after": ev["after"]["eval/reward"],
            "gain": ev["after"]["eval/reward"] - ev["before"]["eval/reward"], "after_sem": ev["after"]["eval/reward_sem"],
            "seconds_per_step": statistics.median(h["time/step_seconds"] for h in hist), "minutes": (time.perf_counter() - t0) / 60}

def summarise(rows: list[dict]) -> list[dict]:
    "One line per algorithm: mean gain, seed spread, median seconds per step."
    out = []
    for name in dict.fromkeys(r["algorithm"] for r in rows):
        ok = [r for r in rows if r["algorithm"] == name and not r["failed"]]
        gains = [r["gain"] for r in ok]
        out.append({"algorithm": name, "runs": len(ok), "failed": sum(r["failed"] for r in rows if r["algorithm"] == name),
                    "steps": ok[0]["max_steps"] if ok else None, "mean_gain": statistics.mean(gains) if gains else float("nan"),
                    "spread": statistics.stdev(gains) if len(gains) > 1 else float("nan"),
                    "seconds_per_step": statistics.median(r["seconds_per_step"] for r in ok) if ok else float("nan")})
    return out

def figure(summary: list[dict], budget_minutes: float, model_name: str):
    "Mean held-out reward gain with the seed spread as error bars, and seconds per step."
    from plotly.subplots import make_subplots
    fig = make_subplots(rows=1, cols=2, subplot_titles=("held-out reward gain (error bar: seed spread)", "seconds per step (median)"))
    names = [s["algorithm"] for s in summary]
    fig.add_bar(x=names, y=[s["mean_gain"] for s in summary], error_y=dict(type="data", array=[s["spread"] for s in summary]), row=1, col=1, name="gain")
    fig.add_bar(x=names, y=[s["seconds_per_step"] for s in summary], row=1, col=2, name="s/step")
    fig.update_layout(title=f"{model_name}, {budget_minutes:g} min of training per run", template="plotly_white", showlegend=False)
    return fig

def verdicts(summary: list[dict]) -> list[str]:
    "Each algorithm against GRPO: a difference only where it exceeds both seed spreads."
    base = next((s for s in summary if s["algorithm"] == "GRPO"), None)
    if base is None: return []
    lines = []
    for s in summary:
        if s is base: continue
        d, noise = s["mean_gain"] - base["mean_gain"], max(s["spread"], base["spread"])
        if noise != noise: lines.append(f"{s['algorithm']} vs GRPO: {d:+.3f}; one seed, no spread: no comparison")
        else: lines.append(f"{s['algorithm']} vs GRPO: {d:+.3f} ({'exceeds' if abs(d) > noise + 1e-6 else 'within'} the seed spread {noise:.3f})")
    return lines

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-name", default="SmolLM2-135M-Instruct")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--budget-minutes", type=float, default=3.0, help="training time per run (evaluations not counted)")
    p.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), help=f"any of {list(ALGORITHMS)}")
    p.add_argument("--output-dir", default=str(ROOT / "runs" / "benchmark_algorithms"))
    a = p.parse_args()
    out = Path(a.output_dir); out.mkdir(parents=True, exist_ok=True)
    t0, rows, steps = time.perf_counter(), [], {}
    for name in a.algorithms:
        algorithm, config = ALGORITHMS[name]
        sps = seconds_per_step(algorithm, config, a.model_name, out / "probe")
        steps[name] = max(2, int(a.budget_minutes * 60 / sps))
        print(f"{name}: {sps:.1f} s/step in the probe -> {steps[name]} steps", flush=True)
    for seed in a.seeds:
        for name in a.algorithms:
            algorithm, config = ALGORITHMS[name]
            rows.append(run(name, algorithm, dict(config), seed, steps[name], a.model_name, out))
            r = rows[-1]
            print(f"{name} seed {seed}: " + (f"FAILED {r['error']}" if r["failed"] else
                  f"{r['before']:.3f} -> {r['after']:.3f} ({r['gain']:+.3f}), {r['seconds_per_step']:.1f} s/step, {r['minutes']:.1f} min"), flush=True)
    summary = summarise(rows)
    import pandas as pd
    table = pd.DataFrame(summary).set_index("algorithm")
    pd.DataFrame(rows).to_csv(out / "runs.csv", index=False)
    table.to_csv(out / "algorithms.csv")
    (out / "summary.json").write_text(json.dumps({"model_name": a.model_name, "budget_minutes": a.budget_minutes, "seeds": a.seeds,
                                                  "runs": rows, "summary": summary, "verdicts": verdicts(summary)}, indent=2))
    figure(summary, a.budget_minutes, a.model_name).write_html(out / "algorithms.html", include_plotlyjs=True)
    print(table.to_string(float_format=lambda x: f"{x:.3f}"))
    for line in verdicts(summary): print(line)
    print(f"{(time.perf_counter() - t0) / 60:.1f} min in all; notebooks, table and figure in {out}")

if __name__ == "__main__": main()

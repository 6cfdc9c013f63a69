"""The learned reward model against length alone on human-rated chit-chat: the full run of chapter 26b, measured.

    python benchmarks/reward_model_quality.py   # about 5 minutes on 2 cores

Runs `reward_model_train()` with its defaults (the tuned preset; the same as `stateset-agents reward-model train`)
on all 2,088 cleaned BYU chit-chat conversations, prints the held-out report and writes it, with each held-out
prediction and rating and the head's training curve, to `benchmarks/results/reward_model_quality.json`. Chapter 26b
draws its figures from that file and checks its prose against it; the full run is too slow to repeat in every test
run (encoding the conversations is most of its time), so it lives here, as the other measured claims do.

What it checks, as the chapter reports: the split sizes, the length-only baseline's Spearman (pure Python, so exact
on any machine), and that the learned model ranks the held-out conversations above the baseline but by a margin whose
95% paired bootstrap interval contains 0."""
import json, tempfile, time
from pathlib import Path

from stateset_agents.core.checks import atomic_write_text
from stateset_agents.training.reward_model_commands import reward_model_train

OUT = Path(__file__).parent / "results" / "reward_model_quality.json"

def main():
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d: full = reward_model_train(data="chitchat", output=str(Path(d) / "chitchat_rm"), verbose=True)
    full["wall_seconds"] = time.perf_counter() - t0
    atomic_write_text(OUT, json.dumps(full, indent=1))
    g = full["spearman_gain"]
    print(f"\nheld-out Spearman: learned {full['learned']['spearman']:.3f}, length only {full['length_baseline']['spearman']:.3f}; "
          f"gain {g['gain']:+.3f} (95% interval {g['ci_low']:+.3f} to {g['ci_high']:+.3f}); {full['wall_seconds']:.0f} s; wrote {OUT}")
    assert (full["num_train"], full["num_dev"], full["num_test"]) == (1420, 250, 418), full
    assert abs(full["length_baseline"]["spearman"] - 0.468) < 5e-4, full["length_baseline"]
    assert full["learned"]["spearman"] > full["length_baseline"]["spearman"] and g["ci_low"] < 0 < g["ci_high"], g

if __name__ == "__main__": main()

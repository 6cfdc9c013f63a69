"""Every algorithm's first steps at a fixed seed, against figures recorded before the trainer skeleton was refactored.

A refactor of the training loop must not change what any algorithm computes. Each case below trains the tiny model
for a few steps and compares every metric (times aside) and every trained tensor's sum and norm with
`tests/data/algorithm_reference.json`. Regenerate it only for a change that is meant to alter the numbers, and say
so in the commit: `python tests/test_algorithm_reference.py --write`.
"""
import json, math, platform, sys, tempfile
from pathlib import Path

import pytest

REFERENCE = Path(__file__).parent / "data" / "algorithm_reference.json"
TINY = dict(model_name="tiny", num_generations=4, prompts_per_step=2, max_completion_length=8, max_steps=3,
            learning_rate=1e-2, seed=0, sampler="exact")
CASES = {  # name: (algorithm, config overrides); each exercises a distinct path of its trainer
    "grpo_multi_turn_kl": ("grpo", dict(max_turns=2, beta=0.04, num_iterations=2)),
    "grpo_per_turn": ("grpo", dict(max_turns=2, reward_mode="per_turn", turn_gamma=0.9)),
    "dr_grpo_batch_scale": ("grpo", dict(loss_type="dr_grpo", scale_rewards="batch")),
    "gspo": ("gspo", {}),
    "dapo": ("dapo", dict(max_turns=2, overlong_buffer=4)),
    "ppo_minibatches_kl": ("ppo", dict(num_mini_batches=2, beta=0.04, num_iterations=2)),
    "vapo_warmup": ("vapo", dict(value_warmup_steps=1, max_turns=2, num_mini_batches=2)),
    "a2c": ("a2c", {}),
    "dpo_rollout_pairs": ("dpo", {}),
    "grpo_int4": ("grpo", dict(sampler="int4")),  # the 4-bit kernel rounds by ISA: compared on the recording CPU only
}

def cpu_capability() -> str:
    import torch
    return torch.backends.cpu.get_cpu_capability()

def run_case(name: str) -> dict:
    "Train case `name` for its steps; its per-step metrics (times aside) and each trained tensor's sum and norm."
    import torch
    from stateset_agents.training.train import make_config, TRAINERS
    algorithm, extra = CASES[name]
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(algorithm, None, {}, **{**TINY, **extra, "output_dir": f"{tmp}/{name}"})
        trainer = TRAINERS[algorithm](config)
        steps = [{k: v for k, v in trainer.train_step().items() if not k.startswith("time/") and isinstance(v, float)}
                 for _ in range(config.max_steps)]
        weights = {n: [p.detach().double().sum().item(), p.detach().double().norm().item()]
                   for n, p in trainer.trainable_parameters().items()}
    return {"steps": steps, "weights": weights}

def close(a: float, b: float, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    if math.isnan(a) or math.isnan(b): return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= atol + rtol * abs(b)

def differences(got: dict, want: dict) -> list[str]:
    "What differs between a run's figures and the reference's, one line each."
    out = [f"{len(got['steps'])} steps, reference {len(want['steps'])}"] if len(got["steps"]) != len(want["steps"]) else []
    for i, (g, w) in enumerate(zip(got["steps"], want["steps"])):
        if set(g) != set(w): out.append(f"step {i} metrics {sorted(set(g) ^ set(w))} differ in presence")
        out += [f"step {i} {k}: {g[k]} vs {w[k]}" for k in set(g) & set(w) if not close(g[k], w[k])]
    if set(got["weights"]) != set(want["weights"]): out.append("trained tensors differ in name")
    out += [f"{n}: {got['weights'][n]} vs {v}" for n, v in want["weights"].items()
            if n in got["weights"] and not all(close(a, b, 1e-4, 1e-5) for a, b in zip(got["weights"][n], v))]
    return out

@pytest.mark.parametrize("name", list(CASES))
def test_algorithm_matches_reference(name):
    ref = json.loads(REFERENCE.read_text())
    if name == "grpo_int4" and ref["cpu_capability"] != cpu_capability():
        pytest.skip(f"recorded on a {ref['cpu_capability']} CPU, this one is {cpu_capability()}")
    assert differences(run_case(name), ref["cases"][name]) == []

if __name__ == "__main__" and "--write" in sys.argv:
    import torch
    cases = {name: run_case(name) for name in CASES}
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(json.dumps({"cpu": platform.processor() or platform.machine(), "cpu_capability": cpu_capability(),
                                     "torch": torch.__version__, "cases": cases}, indent=1) + "\n")
    print(f"wrote {REFERENCE}")

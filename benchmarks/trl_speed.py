"""Training speed: our GRPOTrainer against Hugging Face TRL's GRPOTrainer, same setup, same run.

    pip install trl==1.16.0          # only for this benchmark; not a dependency of stateset_agents
    python benchmarks/trl_speed.py

Both train SmolLM2-135M-Instruct (the same float32 weights, from our cache folder) with LoRA (r=16, alpha=32, the
same target modules), one prompt x 4 completions per step, completions up to 48 tokens, temperature 1.0, the same
customer-service prompts and the same composite reward, on the CPU. We time optimizer steps after one warm-up step,
at one thread and at all threads for both sides: ours with the exact sampler (the policy's merged float32 weights)
and with the 4-bit sampler (`sampler="int4"`, corrected by truncated importance sampling), TRL with and without
gradient checkpointing (its default is on). The ratios compare steps/s at equal threads: our fastest setting
against TRL's fastest, for each thread count, and the same with our exact sampler.
"""
import argparse, statistics, tempfile, time

import torch

MODEL = "SmolLM2-135M-Instruct"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

def prompts():
    from stateset_agents.core.scenarios import customer_service_scenarios
    return [[{"role": "system", "content": s.system_prompt}, {"role": "user", "content": s.opening_message}]
            for s in customer_service_scenarios("train")]

def ours(steps: int, seed: int, threads: int | None = None, sampler: str = "exact") -> list[float]:
    "Seconds per step of our GRPOTrainer (`threads`: None for its default)."
    from stateset_agents.training.grpo_trainer import GRPOConfig, GRPOTrainer
    cfg = GRPOConfig(model_name=MODEL, num_generations=4, prompts_per_step=1, max_completion_length=48, lora_r=16,
                     lora_alpha=32, lora_target_modules=TARGETS, learning_rate=1e-5, temperature=1.0, max_steps=steps + 1,
                     seed=seed, output_dir=tempfile.mkdtemp(), torch_threads=threads, sampler=sampler)
    trainer = GRPOTrainer(cfg)
    trainer.train_step()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter(); trainer.train_step(); times.append(time.perf_counter() - t0)
    return times

def trl(steps: int, seed: int, gradient_checkpointing: bool, threads: int) -> list[float]:
    "Seconds per step of TRL's GRPOTrainer."
    torch.set_num_threads(threads)
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import GRPOConfig as TRLConfig, GRPOTrainer as TRLTrainer
    from stateset_agents.core.models import smollm2_dir
    from stateset_agents.core.reward import create_customer_service_reward
    reward = create_customer_service_reward()
    def reward_fn(prompts, completions, **kwargs):
        return [reward(p + c).score for p, c in zip(prompts, completions)]
    times, marks = [], {}
    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw): marks["t"] = time.perf_counter()
        def on_step_end(self, args, state, control, **kw): times.append(time.perf_counter() - marks["t"])
    data = Dataset.from_list([{"prompt": p} for p in prompts()])
    args = TRLConfig(output_dir=tempfile.mkdtemp(), per_device_train_batch_size=4, num_generations=4, max_completion_length=48,
                     learning_rate=1e-5, max_steps=steps + 1, logging_steps=1, report_to=[], use_cpu=True, bf16=False,
                     save_strategy="no", temperature=1.0, top_p=1.0, seed=seed, gradient_checkpointing=gradient_checkpointing)
    trainer = TRLTrainer(model=str(smollm2_dir()), reward_funcs=reward_fn, args=args, train_dataset=data,
                         peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=TARGETS, task_type="CAUSAL_LM"),
                         callbacks=[Timer()])
    trainer.train()
    return times[1:]  # drop the warm-up step

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=5, help="timed steps per trainer (after one warm-up step)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    many = torch.get_num_threads()
    res = {}
    for threads in (1, many):
        for sampler in ("exact", "int4"): res[("ours", sampler, threads)] = ours(a.steps, a.seed, threads, sampler)
        for gc in (True, False): res[("TRL", "grad checkpointing" if gc else "no grad checkpointing", threads)] = trl(a.steps, a.seed, gc, threads)
    med = {k: statistics.median(v) for k, v in res.items()}
    for (side, what, threads), v in res.items():
        name = f"{'stateset_agents' if side == 'ours' else 'TRL'} GRPOTrainer ({what}{' sampler' if side == 'ours' else ''}, {threads} thread{'s' * (threads > 1)})"
        print(f"{name:66s} median {med[(side, what, threads)]:6.2f} s/step  ({1 / med[(side, what, threads)]:.3f} steps/s)  all: {[round(x, 1) for x in v]}")
    for threads in (1, many):
        trl_best = min(v for (side, _, t), v in med.items() if side == "TRL" and t == threads)
        ours_best = min(v for (side, _, t), v in med.items() if side == "ours" and t == threads)
        print(f"{threads} thread(s): ours / TRL steps/s = {trl_best / ours_best:.2f} (fastest each; target >= 2), "
              f"with the exact sampler {trl_best / med[('ours', 'exact', threads)]:.2f}")

if __name__ == "__main__": main()

"""Throughput of the agent's batched sampling against plain `model.generate` on the same batch, in the same run.

    python benchmarks/generation.py                      # the default model, SmolLM2-135M-Instruct
    python benchmarks/generation.py --model tiny         # a quick check

Both sides sample the same prompts with the same seed and settings, so they produce the same tokens; the agent
adds chat templating, tokenisation, cutting at end-of-turn and decoding. Runs alternate (agent, plain, agent, ...)
so drifts in machine load hit both; we report the median of each side and their ratio (target: >= 0.9).
"""
import argparse, statistics, time

import torch
from stateset_agents.core.agent import AgentConfig, MultiTurnAgent

PROMPTS = ["Hi, my order #1042 hasn't arrived and it's been two weeks. What can you do?",
           "I was charged twice for the same subscription this month.",
           "How do I reset my password? The reset email never comes.",
           "Can I exchange a jacket I bought for a bigger size?"]

def count_tokens(rows: list[list[int]], eos_ids: set[int]) -> int:
    "Generated tokens up to and including each row's first end-of-turn id."
    total = 0
    for row in rows:
        n = next((i + 1 for i, t in enumerate(row) if t in eos_ids), len(row))
        total += n
    return total

def run_agent(agent, convs, num_samples, seed):
    torch.manual_seed(seed)
    t = time.perf_counter()
    comps = agent.generate_batch(convs, num_samples=num_samples)
    return sum(len(c.completion_ids) for c in comps), time.perf_counter() - t

def run_plain(agent, batch, num_samples, seed):
    cfg = agent.config
    torch.manual_seed(seed)
    t = time.perf_counter()
    with torch.no_grad():
        out = agent.model.generate(**batch, max_new_tokens=cfg.max_new_tokens, num_return_sequences=num_samples,
                                   do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p, top_k=0,
                                   pad_token_id=agent.tokenizer.pad_token_id, eos_token_id=sorted(agent.eos_ids))
    dt = time.perf_counter() - t
    return count_tokens(out[:, batch["input_ids"].shape[1]:].tolist(), agent.eos_ids), dt

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="SmolLM2-135M-Instruct")
    p.add_argument("--num-samples", type=int, default=2, help="replies per prompt (4 prompts)")
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    agent = MultiTurnAgent(AgentConfig(model_name=a.model, max_new_tokens=a.max_new_tokens,
                                       system_prompt="You are a helpful customer-service agent."))
    convs = [[{"role": "user", "content": t}] for t in PROMPTS]
    batch = agent.encode(convs)
    run_agent(agent, convs, a.num_samples, 0)  # warm-up
    ours, plain = [], []
    for r in range(a.repeats):
        n1, t1 = run_agent(agent, convs, a.num_samples, seed=r)
        n2, t2 = run_plain(agent, batch, a.num_samples, seed=r)
        assert n1 == n2, f"both sides must generate the same tokens (seed {r}): {n1} vs {n2}"
        ours.append(n1 / t1); plain.append(n2 / t2)
        print(f"repeat {r}: {n1} tokens  agent {n1 / t1:7.1f} tok/s   plain generate {n2 / t2:7.1f} tok/s")
    o, b = statistics.median(ours), statistics.median(plain)
    print(f"model={a.model} batch={len(PROMPTS)}x{a.num_samples} max_new_tokens={a.max_new_tokens} threads={torch.get_num_threads()}")
    print(f"agent.generate_batch: {o:.1f} tokens/s (median)")
    print(f"model.generate:       {b:.1f} tokens/s (median)")
    print(f"ratio agent/plain:    {o / b:.3f}  (target >= 0.9)")

if __name__ == "__main__": main()

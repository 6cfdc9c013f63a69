"""A roofline for decoding: how close each sampler gets to what this machine can stream, measured in one run.

    python benchmarks/roofline.py                 # SmolLM2-135M-Instruct, batch 4, 48 new tokens
    python benchmarks/roofline.py --threads 2

Decoding a small batch reads every weight once a token, so its floor is bytes-read / memory bandwidth (or, for big
batches, multiply-adds / matmul throughput, whichever is larger). We measure both limits here (a STREAM-style copy of
256 MB and a 2048^3 matmul, float32 and bfloat16), count the bytes and multiply-adds of one decode step of each
sampler, time its decode steps on a batch of 4 rows after a 150-token prompt, and print the fraction of its own
limit each reaches. Plain `model.generate` is what TRL samples with on a CPU (no vLLM there); "exact" is our decode
loop on the float32 policy; "int4" is the 4-bit sampler (4-bit layers with their LoRA adapters, an 8-bit output
layer). Reading fewer bytes lowers the floor; reaching a larger fraction of it is the loop's own merit.
"""
import argparse, copy, statistics, time

import torch

def bandwidth(seconds: float = 1.0) -> float:
    "Memory bandwidth in GB/s: bytes read + written by copies of a 256 MB float32 array (best of repeated copies)."
    a, b = torch.ones(64 * 2**20), torch.empty(64 * 2**20)
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter(); b.copy_(a); best = min(best, time.perf_counter() - t)
    return 2 * a.numel() * 4 / best / 1e9

def matmul_flops(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    "Matmul throughput in GFLOP/s for an n x n x n product in `dtype` (best of `repeats`)."
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9

def _timed(fn) -> float:
    t = time.perf_counter(); fn(); return time.perf_counter() - t

def step_cost(model) -> tuple[float, float]:
    "(bytes of weights read, multiply-adds per row) of one decode step: every linear layer and the output layer, once."
    from stateset_agents.training.quantized_sampler import Int4Linear, Int8Linear
    nbytes = macs = 0
    for m in model.modules():
        if isinstance(m, Int4Linear):
            n = m.out_features
            k = m.scales.shape[0] * 32
            nbytes += n * k / 2 + m.scales.numel() * 2; macs += n * k
            if m.lora is not None:
                A, B, _ = m.lora; nbytes += (A.numel() + B.numel()) * 4; macs += A.numel() + B.numel()
        elif isinstance(m, Int8Linear): nbytes += m.weight_int8.numel() + m.scale.numel() * 2; macs += m.weight_int8.numel()
        elif isinstance(m, torch.nn.Linear): nbytes += m.weight.numel() * m.weight.element_size(); macs += m.weight.numel()
    return nbytes, macs

def decode_ms(sample, steps: int = 48, repeats: int = 3) -> float:
    "Median milliseconds per decode step of `sample(steps)` minus `sample(1)` (which is the prefill and one step)."
    sample(1); sample(steps)
    one = statistics.median(_timed(lambda: sample(1)) for _ in range(repeats))
    many = statistics.median(_timed(lambda: sample(steps)) for _ in range(repeats))
    return (many - one) / (steps - 1) * 1e3

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=4)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from peft import LoraConfig, get_peft_model
    from stateset_agents.core.models import load_causal_lm
    from stateset_agents.core.sampling import sample_groups
    from stateset_agents.training.quantized_sampler import int4_sampler
    bw, f32, bf16 = bandwidth(), matmul_flops(torch.float32), matmul_flops(torch.bfloat16)
    print(f"threads={a.threads}: memory {bw:.1f} GB/s, matmul float32 {f32:.0f} GFLOP/s, bfloat16 {bf16:.0f} GFLOP/s")
    model, tok = load_causal_lm("SmolLM2-135M-Instruct", dtype=torch.float32, seed=0)
    base = copy.deepcopy(model)
    policy = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    exact, fast = copy.deepcopy(base), int4_sampler(policy, copy.deepcopy(base))
    prompt = torch.randint(100, 20000, (150,)).tolist()
    def ours(m): return lambda n: sample_groups(m, [prompt], a.batch, [0], 1.0, 1.0, n, set(), tok.pad_token_id)
    def plain(n):
        torch.manual_seed(0)
        with torch.no_grad(): base.generate(torch.tensor([prompt]), max_new_tokens=n, min_new_tokens=n, do_sample=True, top_k=0,
                                            num_return_sequences=a.batch, pad_token_id=tok.pad_token_id)
    rows = [("model.generate (float32; TRL's sampler on CPU)", plain, base, f32), ("ours, exact (float32)", ours(exact), exact, f32),
            ("ours, int4 (4-bit + LoRA, 8-bit head)", ours(fast), fast, bf16)]
    print(f"{'sampler':48s} {'MB/step':>8s} {'floor ms':>9s} {'ms/step':>8s} {'of limit':>9s}")
    for name, fn, m, peak in rows:
        nbytes, macs = step_cost(m)
        floor = max(nbytes / (bw * 1e9), 2 * macs * a.batch / (peak * 1e9)) * 1e3
        ms = decode_ms(fn)
        print(f"{name:48s} {nbytes / 1e6:8.0f} {floor:9.1f} {ms:8.1f} {floor / ms:9.0%}")

if __name__ == "__main__": main()

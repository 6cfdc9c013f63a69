"""A bounded load test of the service on 127.0.0.1: continuous against static batching, measured in the same run,
with requests sent at once (at most C in flight) and with staggered arrivals.

    python benchmarks/api_load.py                       # 320 streamed requests per run, 32 concurrent, tiny model
    python benchmarks/api_load.py --requests 96 --model SmolLM2-135M-Instruct

Each request streams its answer (`stream: true`), so the client sees its time to first token (the first text, not
the role chunk sent before decoding) as well as its latency (to `[DONE]`). Requests ask for between max_tokens/4
and max_tokens*7/4 tokens (seeded), since mixed lengths are what a real server sees. Four runs, in this order and
on the same model: {continuous, static} x {burst: all requests queued at once, at most --concurrency in flight;
staggered: arrivals every --interval seconds on average (exponential gaps, seeded), also at most --concurrency in
flight}, each tried --repeats times alternating (the try with the most requests/s is kept: on a shared machine the
others lost time to neighbours). Prints the CPU, then errors, p50/p99 latency, p50/p99 time to first token,
requests/s, tokens/s and mean rows per decode step of each run, and the continuous/static ratios; writes benchmarks/results/api_load.json.
Both servers run in this process (uvicorn in a thread); the client is httpx.
"""
import argparse, asyncio, json, platform, random, statistics, subprocess, sys, time
from pathlib import Path

import httpx
import torch
from stateset_agents.api.engine import ServingEngine, load_served_model
from stateset_agents.api.server import BackgroundServer, ServerSettings, create_app

KEY = "bench-key-0123456789abcdef"

def cpu_name() -> str:
    "The CPU's model name as lscpu gives it (else the platform's processor string)."
    try: out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError): out = ""
    names = [l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name")]
    return names[0] if names else platform.processor() or "unknown CPU"

def percentile(xs: list[float], q: float) -> float:
    "The q-th percentile of xs (nearest rank)."
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * len(s) + 0.5)) - 1))]

def workload(requests: int, max_tokens: int, interval: float, seed: int = 0) -> list[tuple[float, int]]:
    "Each request's arrival offset in seconds (0 for all when interval is 0) and its max_tokens, seeded."
    rng, t, out = random.Random(seed), 0.0, []
    for _ in range(requests):
        out.append((t, rng.randint(max(1, max_tokens // 4), max_tokens * 7 // 4)))
        if interval: t += rng.expovariate(1 / interval)
    return out

async def one(client: httpx.AsyncClient, i: int, max_tokens: int) -> dict:
    "Send one streamed chat request; its latency, time to first text and an error (or None)."
    body = {"model": "bench", "max_tokens": max_tokens, "temperature": 0.7, "seed": i, "stream": True,
            "messages": [{"role": "user", "content": f"Order #{1000 + i} has not arrived. What can you do?"}]}
    t0, first, error, finish = time.perf_counter(), None, None, None
    async with client.stream("POST", "/v1/chat/completions", json=body) as r:
        if r.status_code != 200: error = f"{r.status_code} {(await r.aread())[:120]!r}"
        else:
            async for line in r.aiter_lines():
                if not line.startswith("data:") or line[5:].strip() == "[DONE]": continue
                choice = (json.loads(line[5:])["choices"] or [{}])[0]
                if first is None and choice.get("delta", {}).get("content"): first = time.perf_counter() - t0
                finish = choice.get("finish_reason") or finish
            if finish not in ("stop", "length"): error = f"no finish reason ({finish!r})"
    latency = time.perf_counter() - t0
    return {"latency": latency, "ttft": latency if first is None else first, "error": error}

async def load(url: str, plan: list[tuple[float, int]], concurrency: int) -> dict:
    "Send the planned requests (arrival offset, max_tokens) with at most `concurrency` in flight."
    gate, results = asyncio.Semaphore(concurrency), []
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        t0 = time.perf_counter()
        async def send(i, at, max_tokens):
            await asyncio.sleep(max(0.0, t0 + at - time.perf_counter()))
            async with gate: results.append(await one(client, i, max_tokens))
        await asyncio.gather(*(send(i, at, m) for i, (at, m) in enumerate(plan)))
        wall = time.perf_counter() - t0
    lat, ttft = [r["latency"] for r in results], [r["ttft"] for r in results]
    errors = [r["error"] for r in results if r["error"]]
    return {"requests": len(plan), "concurrency": concurrency, "errors": len(errors), "first_errors": errors[:3],
            "wall_s": wall, "requests_per_s": len(plan) / wall, "p50_s": percentile(lat, 50), "p99_s": percentile(lat, 99),
            "mean_s": statistics.mean(lat), "ttft_p50_s": percentile(ttft, 50), "ttft_p99_s": percentile(ttft, 99)}

def run(model, tokenizer, model_name: str, batching: str, plan: list[tuple[float, int]], concurrency: int) -> dict:
    "Serve the model with `batching` and load it; the engine's statistics added."
    engine = ServingEngine(model, tokenizer, "bench", max_batch_rows=32, max_queue=max(64, len(plan)),
                           batching=batching)
    settings = ServerSettings(model=model_name, served_name="bench", api_keys=[KEY], max_queue=len(plan),
                              rate_limit=f"{10 * len(plan)}/minute")
    server = BackgroundServer(create_app(settings, engine)).start()
    try: result = asyncio.run(load(server.url, plan, concurrency))
    finally: server.stop()
    s = engine.stats
    return {**result, "batching": batching, "prefills": s["batches"], "steps": s["steps"], "tokens": s["tokens"],
            "mean_rows_per_step": s["tokens"] / max(1, s["steps"]), "tokens_per_s": s["tokens"] / result["wall_s"]}

def line(name: str, r: dict) -> str:
    return (f"{name:22s} errors {r['errors']}, latency p50 {r['p50_s']:.2f} s p99 {r['p99_s']:.2f} s, first token p50 "
            f"{r['ttft_p50_s']:.2f} s p99 {r['ttft_p99_s']:.2f} s, {r['requests_per_s']:.1f} req/s, "
            f"{r['tokens_per_s']:.0f} tokens/s, {r['mean_rows_per_step']:.1f} rows/step")

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny"); p.add_argument("--requests", type=int, default=320)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--max-tokens", type=int, default=32, help="mean max_tokens (each asks 1/4 to 7/4 of it)")
    p.add_argument("--interval", type=float, default=0.08, help="mean seconds between arrivals in the staggered runs")
    p.add_argument("--repeats", type=int, default=2, help="tries of each run; the one with most requests/s is kept")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "api_load.json"))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    model, tokenizer = load_served_model(a.model)
    plans = {"burst": workload(a.requests, a.max_tokens, 0.0),
             "staggered": workload(a.requests, a.max_tokens, a.interval)}
    cpu = cpu_name()
    print(f"CPU: {cpu}, {a.threads} torch threads; model {a.model}; {a.requests} streamed requests per run, at most "
          f"{a.concurrency} in flight, max_tokens {a.max_tokens // 4}-{a.max_tokens * 7 // 4}; staggered: one every "
          f"{a.interval} s on average")
    runs, tries = {}, {}
    for attempt in range(a.repeats):  # alternating, so a neighbour's load on a shared machine hits both policies
        for arrival, plan in plans.items():
            for batching in ("continuous", "static"):
                r = run(model, tokenizer, a.model, batching, plan, a.concurrency)
                tries.setdefault(f"{batching}/{arrival}", []).append(r)
                print(line(f"{batching}, {arrival} #{attempt + 1}", r), flush=True)
    for key, rs in tries.items(): runs[key] = max(rs, key=lambda r: r["requests_per_s"])  # the least disturbed try
    print(f"best of {a.repeats} tries (highest requests/s) of each:")
    for key, r in runs.items(): print(line(key.replace("/", ", "), r))
    ratio = lambda arrival, k: runs[f"continuous/{arrival}"][k] / runs[f"static/{arrival}"][k]
    ratios = {arrival: {k: ratio(arrival, k) for k in ("requests_per_s", "p50_s", "ttft_p50_s")} for arrival in plans}
    for arrival, q in ratios.items():
        print(f"continuous / static, {arrival}: requests/s x{q['requests_per_s']:.2f}, p50 latency x{q['p50_s']:.2f}, "
              f"p50 first token x{q['ttft_p50_s']:.2f}")
    report = {"cpu": cpu, "model": a.model, "threads": a.threads, "max_tokens": a.max_tokens, "interval": a.interval,
              "repeats": a.repeats, "runs": runs, "tries": tries, "continuous_over_static": ratios}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=1))
    return 0 if all(r["errors"] == 0 for r in runs.values()) else 1

if __name__ == "__main__": sys.exit(main())

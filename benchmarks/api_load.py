"""A bounded load test of the service on 127.0.0.1: N chat requests, C at a time, against a batching server and
against the same server answering one request at a time, measured in the same run.

    python benchmarks/api_load.py                       # 400 requests, 32 concurrent, tiny model
    python benchmarks/api_load.py --requests 100 --model SmolLM2-135M-Instruct

Prints errors, p50/p99 latency and requests/s for each server, and the batching gain (requests/s ratio); writes
benchmarks/results/api_load.json. Both servers run in this process (uvicorn in a thread), the client is httpx with
a bounded number of requests in flight, and every reply is checked (status 200, max_tokens tokens or a stop).
"""
import argparse, asyncio, json, statistics, sys, time
from pathlib import Path

import httpx
import torch
from stateset_agents.api.engine import ServingEngine, load_served_model
from stateset_agents.api.server import BackgroundServer, ServerSettings, create_app

KEY = "bench-key-0123456789abcdef"

def percentile(xs: list[float], q: float) -> float:
    "The q-th percentile of xs (nearest rank)."
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * len(s) + 0.5)) - 1))]

async def load(url: str, requests: int, concurrency: int, max_tokens: int) -> dict:
    "Send `requests` chat requests with at most `concurrency` in flight; latency of each, errors, wall time."
    gate, latencies, errors = asyncio.Semaphore(concurrency), [], []
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def one(i):
            async with gate:
                t0 = time.perf_counter()
                r = await client.post("/v1/chat/completions", json={"model": "bench", "max_tokens": max_tokens, "temperature": 0.7, "seed": i,
                                                                     "messages": [{"role": "user", "content": f"Order #{1000 + i} has not arrived. What can you do?"}]})
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200: errors.append(f"{r.status_code} {r.text[:120]}")
                elif not r.json()["choices"][0]["finish_reason"] in ("stop", "length"): errors.append(f"bad body {r.text[:120]}")
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        wall = time.perf_counter() - t0
    return {"requests": requests, "concurrency": concurrency, "errors": len(errors), "first_errors": errors[:3], "wall_s": wall,
            "requests_per_s": requests / wall, "p50_s": percentile(latencies, 50), "p99_s": percentile(latencies, 99),
            "mean_s": statistics.mean(latencies)}

def run(model_name: str, batch_rows: int, requests: int, concurrency: int, max_tokens: int) -> dict:
    "Serve the model with `batch_rows` and load it; the engine's batch statistics added."
    model, tokenizer = load_served_model(model_name)
    engine = ServingEngine(model, tokenizer, "bench", max_batch_rows=batch_rows, max_queue=max(64, requests))
    settings = ServerSettings(model=model_name, served_name="bench", api_keys=[KEY], rate_limit=f"{10 * requests}/minute", max_queue=requests)
    server = BackgroundServer(create_app(settings, engine)).start()
    try: result = asyncio.run(load(server.url, requests, concurrency, max_tokens))
    finally: server.stop()
    s = engine.stats
    return {**result, "max_batch_rows": batch_rows, "batches": s["batches"], "mean_batch_rows": s["rows"] / max(1, s["batches"]),
            "tokens": s["tokens"], "tokens_per_s": s["tokens"] / result["wall_s"]}

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny"); p.add_argument("--requests", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=32); p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--baseline-requests", type=int, default=None, help="requests for the one-at-a-time server (default: --requests)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "api_load.json"))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    batched = run(a.model, 32, a.requests, a.concurrency, a.max_tokens)
    single = run(a.model, 1, a.baseline_requests or a.requests, a.concurrency, a.max_tokens)
    gain = batched["requests_per_s"] / single["requests_per_s"]
    report = {"model": a.model, "threads": a.threads, "max_tokens": a.max_tokens, "batched": batched, "one_at_a_time": single,
              "batching_gain": gain}
    for name, r in (("batched (32 rows)", batched), ("one at a time", single)):
        print(f"{name:18s} {r['requests']} requests, {r['concurrency']} concurrent: errors {r['errors']}, p50 {r['p50_s']:.3f} s, "
              f"p99 {r['p99_s']:.3f} s, {r['requests_per_s']:.1f} req/s, {r['tokens_per_s']:.0f} tokens/s, mean batch {r['mean_batch_rows']:.1f} rows")
    print(f"batching gain: {gain:.2f}x requests/s")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=1))
    return 0 if batched["errors"] == 0 and single["errors"] == 0 else 1

if __name__ == "__main__": sys.exit(main())

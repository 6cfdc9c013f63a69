"The service over a real socket: OpenAI's own client, batching under concurrency, a full queue, jobs followed over a WebSocket and cancelled, a restart, CORS, and schema fuzzing of the whole API."
import asyncio, collections, json, threading, time
from pathlib import Path

import httpx
import openai
import pytest
import torch
from stateset_agents.api.engine import ServingEngine, load_served_model
from stateset_agents.api.server import BackgroundServer, ServerSettings, create_app
from stateset_agents.core.models import build_tiny_model
from stateset_agents.training.checkpoints import read_checkpoint

KEY = "test-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
TINY_JOB = {"model_name": "tiny", "num_generations": 2, "prompts_per_step": 1, "max_completion_length": 4}

@pytest.fixture(scope="module")
def tiny():
    return build_tiny_model(seed=0)

@pytest.fixture
def served(tiny, tmp_path):
    "A running server of the tiny model; yields (server, app)."
    made = []
    def start(**kw):
        settings = ServerSettings(**{"model": "tiny", "api_keys": [KEY], "data_dir": str(tmp_path), **kw})
        engine_kw = {k: kw[k] for k in ("max_batch_rows", "max_queue") if k in kw}
        app = create_app(settings, ServingEngine(*tiny, "tiny", **engine_kw))
        made.append(BackgroundServer(app).start())
        return made[-1], app
    yield start
    for s in made: s.stop()

def test_openai_client_unchanged(served):
    server, _ = served()
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    assert [m.id for m in client.models.list()] == ["tiny"]
    reply = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Where is my order?"}],
                                           max_tokens=10, temperature=0.8, top_p=0.9, n=2, seed=5)
    assert len(reply.choices) == 2 and all(c.finish_reason in ("stop", "length") for c in reply.choices)
    assert 2 <= reply.usage.completion_tokens <= 20 and reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    again = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Where is my order?"}],
                                           max_tokens=10, temperature=0.8, top_p=0.9, n=2, seed=5)
    assert [c.message.content for c in again.choices] == [c.message.content for c in reply.choices]  # a seed repeats
    stream = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Where is my order?"}],
                                            max_tokens=10, temperature=0.8, top_p=0.9, n=2, seed=5, stream=True)
    parts = {0: "", 1: ""}
    finishes = {}
    for chunk in stream:
        for c in chunk.choices:
            parts[c.index] += c.delta.content or ""
            if c.finish_reason: finishes[c.index] = c.finish_reason
    assert [parts[0], parts[1]] == [c.message.content for c in reply.choices]
    assert finishes == {c.index: c.finish_reason for c in reply.choices}
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url + "/v1", api_key="wrong-key-0123456789", max_retries=0).models.list()
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(openai.BadRequestError, match="tools"):
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Hi"}],
                                       tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}])

def test_async_client_streams_inside_a_running_loop(served):
    server, _ = served()
    async def talk():
        async with openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0) as client:
            stream = await client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Hi"}], max_tokens=6, stream=True,
                                                          stream_options={"include_usage": True})
            return [chunk async for chunk in stream]
    chunks = asyncio.run(talk())
    assert 1 <= chunks[-1].usage.completion_tokens <= 6
    assert chunks[0].choices[0].delta.role == "assistant"

def test_concurrent_requests_are_batched(served):
    server, app = served()
    def ask(i, out):
        r = httpx.post(server.url + "/v1/chat/completions", headers=AUTH, timeout=60,
                       json={"model": "tiny", "messages": [{"role": "user", "content": f"Order {i}?"}], "max_tokens": 16})
        out.append(r.status_code)
    codes = []
    threads = [threading.Thread(target=ask, args=(i, codes)) for i in range(16)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert codes == [200] * 16
    stats = app.state.engine.stats
    assert stats["requests"] == 16 and stats["steps"] < stats["tokens"], stats  # several requests shared forward passes

def test_full_queue_answers_503_with_retry_after(served):
    server, _ = served(max_queue=1, max_batch_rows=1)
    results = []
    def ask():
        r = httpx.post(server.url + "/v1/chat/completions", headers=AUTH, timeout=60,
                       json={"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 64})
        results.append((r.status_code, r.headers.get("retry-after"), r.json()))
    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    busy = [r for r in results if r[0] == 503]
    assert busy and all(r[1] and int(r[1]) >= 1 and r[2]["error"]["code"] == "server_busy" for r in busy)
    assert any(r[0] == 200 for r in results)

def follow(url: str, job_id: str, until_steps: int | None = None) -> list[dict]:
    "Messages of a job's metrics WebSocket, until `until_steps` steps (or the end message)."
    from websockets.sync.client import connect
    got = []
    with connect(url.replace("http", "ws") + f"/v1/jobs/{job_id}/metrics", additional_headers=AUTH, open_timeout=30) as ws:
        while True:
            got.append(json.loads(ws.recv(timeout=300)))
            if "event" in got[-1] or (until_steps and len(got) >= until_steps): return got

def test_websocket_follows_a_job_and_cancel_keeps_its_checkpoint(served, tmp_path):
    server, app = served()
    job = httpx.post(server.url + "/v1/jobs", headers=AUTH, json={"config": {**TINY_JOB, "max_steps": 500, "save_steps": 1}}).json()
    first = follow(server.url, job["id"], until_steps=3)
    assert [m["step"] for m in first] == [1, 2, 3] and "train/loss" in first[0]
    page = httpx.get(server.url + "/metrics", headers=AUTH).text
    assert 'grpo_train_loss{model="tiny"}' in page and 'grpo_train_reward{model="tiny"}' in page
    cancelled = httpx.post(server.url + f"/v1/jobs/{job['id']}/cancel", headers=AUTH, timeout=60).json()
    assert cancelled["status"] == "cancelled"
    ended = follow(server.url, job["id"])
    assert ended[-1] == {"event": "end", "status": "cancelled", "step": ended[-1]["step"]} and ended[-1]["step"] < 500
    folder = Path(job["output_dir"])
    checkpoints = sorted((p for p in folder.glob("checkpoint-*") if p.name.split("-")[1].isdigit()), key=lambda p: int(p.name.split("-")[1]))
    assert checkpoints, list(folder.iterdir())
    ck = read_checkpoint(checkpoints[-1])  # whole: written atomically, whenever the signal landed
    assert ck["meta"]["step"] >= 3
    model, _ = load_served_model(str(checkpoints[-1].relative_to(tmp_path)), tmp_path)  # and servable
    assert not any(torch.isnan(p).any() for p in model.parameters())
    # a restarted server lists the job as it ended
    again = create_app(ServerSettings(model="tiny", api_keys=[KEY], data_dir=str(tmp_path)), app.state.engine)
    from fastapi.testclient import TestClient
    with TestClient(again) as c:
        assert c.get(f"/v1/jobs/{job['id']}", headers=AUTH).json()["status"] == "cancelled"

def test_cors_off_unless_configured(served):
    plain, _ = served()
    r = httpx.options(plain.url + "/v1/models", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in r.headers
    open_, _ = served(cors_origins=["https://app.example"])
    r = httpx.options(open_.url + "/v1/models", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
    assert r.headers["access-control-allow-origin"] == "https://app.example"

def test_schema_fuzzing_finds_no_server_error(tiny, tmp_path, monkeypatch):
    "Every operation of the OpenAPI schema, fuzzed with valid and invalid bodies: never a 500."
    import schemathesis
    from hypothesis import HealthCheck, given, settings, strategies as st
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode
    from stateset_agents.api.jobs import JobManager
    monkeypatch.setattr(JobManager, "start", lambda self: None)  # jobs are created and cancelled, never trained
    app = create_app(ServerSettings(model="tiny", api_keys=[KEY], data_dir=str(tmp_path), max_tokens_limit=16, max_tokens_default=16,
                                    max_queued_jobs=100_000),  # its jobs never start: the queue only grows
                     ServingEngine(*tiny, "tiny", max_batch_rows=8))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    from fastapi.testclient import TestClient
    with TestClient(app) as c:  # one real job, so ids hit as well as miss
        real_job = c.post("/v1/jobs", headers=AUTH, json={"config": TINY_JOB}).json()["id"]
    failures, seen = [], []
    for op in schema.get_all_operations():
        operation = op.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @given(case=operation.as_strategy(generation_mode=mode), aim=st.booleans())
            def check(case, aim):
                if aim and isinstance(case.body, dict) and "model" in case.body:  # also reach the engine
                    case.body["model"] = "tiny"
                    for k in ("max_tokens", "max_completion_tokens"):
                        if isinstance(case.body.get(k), int): case.body[k] = max(1, min(case.body[k], 16))
                if aim and case.path_parameters and "job_id" in case.path_parameters: case.path_parameters["job_id"] = real_job
                response = case.call(headers=AUTH, timeout=300)
                seen.append((operation.label, mode.value, response.status_code))
                if response.status_code >= 500: failures.append((operation.label, case.body, response.status_code, response.text[:300]))
            try: check()
            except Unsatisfiable: assert mode is GenerationMode.NEGATIVE  # nothing to break in an operation without inputs
    chat = {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    odd = [{**chat, "messages": [{"role": "user", "content": "\ud800"}]}, {**chat, "stop": "\udc80"}, {**chat, "stop": ["\udc80"], "stream": True},
           {**chat, "messages": [{"role": "user", "content": [{"type": "text", "text": "a\udfff"}]}], "stream": True},
           {**chat, "model": "\ud800"}, {**chat, "stop": ["x"] * 1000}, {**chat, "stop": ["y" * 200_000] * 4}, {**chat, "stop": [""] * 5}]
    with TestClient(app) as c:  # lone surrogates (JSON escapes carry them) and oversized stop lists
        for body in odd:
            r = c.post("/v1/chat/completions", headers={**AUTH, "Content-Type": "application/json"}, content=json.dumps(body).encode())
            if r.status_code >= 500 or r.status_code == 200 and body["messages"][0]["content"] != "Hi": failures.append((body, r.status_code))
    assert not failures, failures[:3]
    counts = collections.Counter((label, code) for label, _, code in seen)
    assert counts[("POST /v1/chat/completions", 200)] >= 1 and counts[("GET /v1/jobs/{job_id}", 200)] >= 1, counts  # valid calls got through

def judge_model(folder: Path) -> Path:
    "A tiny model fine-tuned for a few seconds to answer any judge request with 'Score: 7', saved to `folder`."
    from stateset_agents.training.judge_reward import judge_messages
    model, tok = build_tiny_model(seed=0)
    convs = [[{"role": "user", "content": q}, {"role": "assistant", "content": a}] for q, a in
             [("Where is my order?", "It ships tomorrow."), ("I want a refund", "Done, refunded."), ("Hi", "Hello! How can I help?")]]
    rows = [(tok.apply_chat_template(judge_messages(c), add_generation_prompt=True, return_dict=False),
             tok.apply_chat_template(judge_messages(c) + [{"role": "assistant", "content": "Score: 7"}], return_dict=False)) for c in convs]
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    torch.manual_seed(0)
    for _ in range(60):
        loss = 0
        for prompt, full in rows:  # the loss on the answer's tokens only
            x, P = torch.tensor([full]), len(prompt)
            loss = loss + torch.nn.functional.cross_entropy(model.lm_head(model.model(input_ids=x).last_hidden_state[0, P - 1:-1]), x[0, P:])
        opt.zero_grad(); loss.backward(); opt.step()
    model.eval().save_pretrained(folder); tok.save_pretrained(folder)
    return folder

def test_judge_reward_through_a_served_model_and_its_degradation(tmp_path, monkeypatch):
    from stateset_agents.training.task import RewardFallbackWarning, build_reward
    from stateset_agents.training.judge_reward import JudgeError
    monkeypatch.setenv("STATESET_AGENTS_JUDGE_KEY", KEY)
    judge_model(tmp_path / "judge")
    model, tok = load_served_model("judge", tmp_path)  # a model folder inside the data folder, as `serve --model judge` loads it
    server = BackgroundServer(create_app(ServerSettings(model="judge", api_keys=[KEY], data_dir=str(tmp_path)),
                                         ServingEngine(model, tok, "judge"))).start()
    conversations = [[{"role": "user", "content": "My parcel is late."}, {"role": "assistant", "content": f"Sorry! Reference {i}."}]
                     for i in range(4)]
    try:
        judge = build_reward(f"judge:{server.url}/v1")
        scores = [judge(c).score for c in conversations]
        assert scores == [0.7] * 4, scores  # each conversation asked, each reply parsed
        assert judge(conversations[0]).metadata["cached"] and judge.misses == 4
        backed = build_reward(f"judge:{server.url}/v1", fallback="helpfulness")
        assert backed(conversations[1]).breakdown["fallback"] == 0  # the judge answered
    finally: server.stop()
    fresh = [[{"role": "user", "content": "Hello?"}, {"role": "assistant", "content": f"Hi, how can I help with order {i}?"}] for i in range(2)]
    with pytest.warns(RewardFallbackWarning, match="JudgeReward"):
        degraded = backed(fresh[0])
    assert degraded.breakdown["fallback"] == 1 and 0 <= degraded.score <= 1  # scored by helpfulness, flagged
    strict = build_reward(f"judge:{server.url}/v1")
    with pytest.raises(JudgeError, match="judge"):
        strict(fresh[1])

def test_serve_command_prints_one_key_and_chat_and_evaluate_use_it(tmp_path):
    "`stateset-agents serve` as a user starts it: a generated key printed once; `chat` and `evaluate` against the URL."
    import os, subprocess, sys
    from stateset_agents.api.server import free_port
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("STATESET_AGENTS_API_KEYS", "STATESET_AGENTS_API_KEY")}
    proc = subprocess.Popen([sys.executable, "-m", "stateset_agents", "serve", "--model", "tiny", "--port", str(port), "--data-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert "API key (shown once" in proc.stdout.readline()
        key = proc.stdout.readline().strip()
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(url + "/ready").status_code == 200: break
            except httpx.TransportError: pass
            time.sleep(0.2)
        assert httpx.get(url + "/v1/models").status_code == 401
        assert httpx.get(url + "/v1/models", headers={"Authorization": f"Bearer {key}"}).json()["data"][0]["id"] == "tiny"
        cli = [sys.executable, "-m", "stateset_agents"]
        chat = subprocess.run(cli + ["chat", "--target", url + "/v1", "--api-key", key, "--max-tokens", "5"], input="Hello\nWhere is my order?\n\n",
                              capture_output=True, text=True, timeout=120, env=env)
        assert chat.returncode == 0 and chat.stdout.count("agent> ") == 2, chat.stdout + chat.stderr
        out = tmp_path / "eval.json"
        ev = subprocess.run(cli + ["evaluate", "--target", url + "/v1", "--api-key", key, "--samples-per-scenario", "1", "--max-turns", "1",
                                   "--max-tokens", "6", "--output", str(out)], capture_output=True, text=True, timeout=300, env=env)
        assert ev.returncode == 0, ev.stderr
        table = json.loads(out.read_text())
        assert table["conversations"] == 6 and "reward (total)" in ev.stdout
    finally:
        proc.terminate(); proc.wait(30)
    assert key not in (proc.stdout.read() or "")  # printed once, never logged again

def chat_body(content="Where is my order?", **kw) -> dict:
    return {"model": "tiny", "messages": [{"role": "user", "content": content}], **kw}

def wait_idle(engine, seconds: float) -> float:
    "Seconds until the engine decodes no rows (at most `seconds`)."
    t0 = time.monotonic()
    while (len(engine.batch) or engine.queue) and time.monotonic() - t0 < seconds: time.sleep(0.02)
    return time.monotonic() - t0

def test_a_client_that_leaves_stops_its_decoding(served):
    "A request whose client timed out (or closed its stream) leaves the batch at its next step instead of decoding to its end."
    server, app = served()
    engine = app.state.engine
    body = chat_body("Tell me a long story.", max_tokens=1900, n=4, seed=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url + "/v1/chat/completions", headers=AUTH, json=body, timeout=0.5)
    assert wait_idle(engine, 8) < 2.5, f"still decoding {len(engine.batch)} rows"  # without the watcher: over 5 s
    with httpx.stream("POST", server.url + "/v1/chat/completions", headers=AUTH, json={**body, "stream": True}, timeout=30) as r:
        for _ in zip(range(3), r.iter_lines()): pass  # a few chunks, then hang up
    assert wait_idle(engine, 8) < 2.5, f"still decoding {len(engine.batch)} rows"
    assert engine.stats["tokens"] < 2 * 4 * 1900 / 2, engine.stats  # neither ran to its length

def test_huge_prompts_are_refused_by_size_and_health_stays_fast(served):
    "16 concurrent prompts of 960,000 characters are refused (400) without tokenising them on the event loop."
    server, _ = served()
    big = {"model": "tiny", "messages": [{"role": "user", "content": "word " * 6_400}] * 30}  # 960,000 characters, under 1 MB
    codes, health = [], []
    def ask(): codes.append(httpx.post(server.url + "/v1/chat/completions", headers=AUTH, json=big, timeout=120).status_code)
    def probe():
        while len(codes) < 16:
            t0 = time.perf_counter(); httpx.get(server.url + "/health", timeout=60); health.append(time.perf_counter() - t0)
            time.sleep(0.02)
    threads = [threading.Thread(target=ask) for _ in range(16)] + [threading.Thread(target=probe)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert codes == [400] * 16, codes
    assert health and max(health) < 1.5, max(health)  # 3.3 s when prompts were tokenised on the event loop

def test_host_header_is_checked_against_dns_rebinding(served):
    "Without auth, a Host other than the bound host, loopback names or --allowed-hosts is refused, on chat and jobs."
    server, _ = served(api_keys=[], no_auth=True, allowed_hosts=["agent.internal"])
    evil = {"Host": "attacker.example"}
    r = httpx.post(server.url + "/v1/chat/completions", headers=evil, json=chat_body(max_tokens=2))
    assert r.status_code == 400 and r.json()["error"]["code"] == "host_not_allowed", r.text
    assert httpx.post(server.url + "/v1/jobs", headers=evil, json={"config": TINY_JOB}).status_code == 400
    assert httpx.get(server.url + "/v1/jobs", headers={"Host": f"attacker.example:{server.port}"}).status_code == 400
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", "[::1]", "LOCALHOST", "agent.internal:80"):
        assert httpx.post(server.url + "/v1/chat/completions", headers={"Host": host}, json=chat_body(max_tokens=2)).status_code == 200, host

def test_stop_strings_are_capped(served):
    "At most 4 stop strings (as OpenAI), each at most MAX_STOP_CHARS characters: more is a 400 naming `stop`."
    from stateset_agents.api.engine import MAX_STOP_CHARS
    server, _ = served()
    for stop in (["x" * 240_000] * 4, ["a", "b", "c", "d", "e"], "y" * (MAX_STOP_CHARS + 1)):
        r = httpx.post(server.url + "/v1/chat/completions", headers=AUTH, json=chat_body(max_tokens=2, stop=stop), timeout=60)
        assert r.status_code == 400 and r.json()["error"]["param"] == "stop", r.text[:300]
        assert len(r.text) < 2000  # the error does not echo the stops
    ok = httpx.post(server.url + "/v1/chat/completions", headers=AUTH, json=chat_body(max_tokens=2, stop=["z" * MAX_STOP_CHARS] * 4))
    assert ok.status_code == 200

def test_errors_have_openai_shapes(served):
    "Parameter errors are 400 invalid_request_error (the openai client's BadRequestError); 413 and bad JSON are OpenAI bodies."
    server, _ = served(max_body_bytes=10_000)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    for bad in ({"temperature": 5}, {"n": 0}, {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}):
        with pytest.raises(openai.BadRequestError) as e:
            client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Hi"}], **bad)
        assert e.value.status_code == 400 and e.value.body["type"] == "invalid_request_error", e.value.body
    big = httpx.post(server.url + "/v1/chat/completions", headers=AUTH, json=chat_body("x" * 20_000))
    assert big.status_code == 413 and big.headers["content-type"].startswith("application/json"), (big.status_code, big.text)
    assert big.json()["error"]["type"] == "invalid_request_error" and "10000 bytes" in big.json()["error"]["message"]
    broken = httpx.post(server.url + "/v1/chat/completions", headers={**AUTH, "Content-Type": "application/json"}, content=b'{"model": "tiny",, }')
    err = broken.json()["error"]
    assert broken.status_code == 400 and err["param"] is None and "JSON" in err["message"] and "character 17" in err["message"], err

def test_a_non_ascii_api_key_is_refused_at_start():
    "A key an HTTP header cannot carry is refused when the server starts, and the error does not show it."
    secret = "clé-secrète-0123456789abcdef"
    with pytest.raises(ValueError, match="printable ASCII") as e:
        ServerSettings(model="tiny", api_keys=[secret])
    assert secret not in str(e.value)

# ---- issue 26, part A: the jobs side (judge allowlist, child environment, ownership, bounds, bad records)
OTHER = "other-key-0123456789abcdef"
OPERATOR = "operator-key-0123456789abcdef"

def as_key(key: str) -> dict: return {"Authorization": f"Bearer {key}"}

def judge_listener():
    "A fake judge on 127.0.0.1 that records every request's Authorization header and echoes it in a reply with no score."
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    heard = []
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args): pass
        def reply(self):
            heard.append(self.headers.get("Authorization"))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"data": [{"id": "judge"}], "choices": [{"message": {"content": f"you sent {heard[-1]}"}}]}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
        do_GET = do_POST = reply
    listener = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    return listener, heard

def test_judge_urls_only_from_the_allowlist_and_no_secret_leaves(served, monkeypatch):
    "Item 1: a job names only allowlisted judges (400 otherwise), and its process never holds the server's keys."
    secrets = {"OPENAI_API_KEY": "sk-operator-secret-0123456789", "STATESET_AGENTS_JUDGE_KEY": "judge-operator-secret-0123"}
    for k, v in secrets.items(): monkeypatch.setenv(k, v)
    listener, heard = judge_listener()
    url = f"http://127.0.0.1:{listener.server_port}/v1"
    try:
        server, _ = served(judge_urls=[url])
        for field in ("reward", "check_reward", "reward_fallback"):
            r = httpx.post(server.url + "/v1/jobs", headers=AUTH, json={"config": {**TINY_JOB, field: "judge:http://127.0.0.1:9/v1"}})
            assert r.status_code == 400 and r.json()["error"]["param"] == f"config.{field}", r.text
            assert "'http://127.0.0.1:9/v1' is not allowed" in r.json()["error"]["message"]
        assert heard == []  # a refused job called nobody
        job = httpx.post(server.url + "/v1/jobs", headers=AUTH,
                         json={"config": {**TINY_JOB, "max_steps": 1, "reward": f"judge:{url}?model=judge"}}).json()
        deadline = time.time() + 300
        while (record := httpx.get(server.url + f"/v1/jobs/{job['id']}", headers=AUTH).json())["status"] in ("queued", "running"):
            assert time.time() < deadline, record
            time.sleep(0.2)
    finally: listener.shutdown()
    assert heard and all(h is None for h in heard), heard  # the judge was called, with no key at all
    assert record["status"] == "failed" and "you sent None" in record["error"] and len(record["error"]) < 1200, record["error"]
    assert not any(v in json.dumps(record) for v in [*secrets.values(), KEY])

def post_json(client, url: str, body: dict, headers: dict = AUTH):
    "POST `body` as JSON text with \\u escapes, which can carry lone surrogates."
    return client.post(url, headers={**headers, "Content-Type": "application/json"}, content=json.dumps(body).encode())

@pytest.fixture
def idle_jobs(monkeypatch):
    "Jobs are created and listed but never trained."
    from stateset_agents.api.jobs import JobManager
    monkeypatch.setattr(JobManager, "start", lambda self: None)

def test_lone_surrogates_are_refused_and_never_break_a_listing(tiny, tmp_path, idle_jobs):
    "Item 2: strings UTF-8 cannot encode get 400 (jobs and chat); a stored one never makes a listing 500."
    from fastapi.testclient import TestClient
    settings = ServerSettings(model="tiny", api_keys=[KEY], data_dir=str(tmp_path))
    app = create_app(settings, ServingEngine(*tiny, "tiny"))
    with TestClient(app) as c:
        for body in ({"config": {**TINY_JOB, "model_name": "\udc80"}}, {"config": {"\ud800": 1}}, {"algorithm": "grpo\udfff"}):
            r = post_json(c, "/v1/jobs", body)
            assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error", r.text
        for content in ("hi \ud800", [{"type": "text", "text": "\udc80"}]):
            r = post_json(c, "/v1/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": content}]})
            assert r.status_code == 400, r.text
        assert post_json(c, "/v1/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "stop": ["\udc80"]}).status_code == 400
        assert c.get("/v1/jobs", headers=AUTH).json()["data"] == []
        job = app.state.jobs.create("grpo", {**TINY_JOB}, owner=None)
        job.config["note"] = "\udc80"; job.save()  # as an older server stored it
    again = create_app(settings, app.state.engine)
    with TestClient(again) as c:
        listed = c.get("/v1/jobs", headers=as_key(KEY))
    assert listed.status_code == 200, listed.text

def test_a_key_sees_its_own_jobs_and_an_operator_all(tiny, tmp_path, idle_jobs):
    "Ownership: a key lists, reads, follows and cancels its own jobs; an operator key all of them."
    from fastapi.testclient import TestClient
    app = create_app(ServerSettings(model="tiny", api_keys=[KEY, OTHER], operator_keys=[OPERATOR], data_dir=str(tmp_path)),
                     ServingEngine(*tiny, "tiny"))
    with TestClient(app) as c:
        mine = c.post("/v1/jobs", headers=AUTH, json={"config": TINY_JOB}).json()["id"]
        theirs = c.post("/v1/jobs", headers=as_key(OTHER), json={"config": TINY_JOB}).json()["id"]
        assert [j["id"] for j in c.get("/v1/jobs", headers=AUTH).json()["data"]] == [mine]
        assert c.get(f"/v1/jobs/{theirs}", headers=AUTH).status_code == 404
        assert c.get(f"/v1/jobs/{theirs}/metrics", headers=AUTH).status_code == 404
        assert c.post(f"/v1/jobs/{theirs}/cancel", headers=AUTH).status_code == 404
        from starlette.websockets import WebSocketDisconnect
        with pytest.raises(WebSocketDisconnect) as closed:
            with c.websocket_connect(f"/v1/jobs/{theirs}/metrics", headers=AUTH) as ws: ws.receive_json()
        assert closed.value.code == 1008
        assert c.get(f"/v1/jobs/{mine}", headers=AUTH).status_code == 200
        assert {j["id"] for j in c.get("/v1/jobs", headers=as_key(OPERATOR)).json()["data"]} == {mine, theirs}
        assert c.post(f"/v1/jobs/{theirs}/cancel", headers=as_key(OPERATOR)).json()["status"] == "cancelled"
        assert c.get(f"/v1/jobs/{theirs}", headers=as_key(OTHER)).json()["status"] == "cancelled"

def test_job_bounds_queue_and_files_are_checked_at_creation(tiny, tmp_path, idle_jobs):
    "Items 9 and 12: fields over the server's bounds, a full queue, a missing scenario file and an unknown model are refused."
    from fastapi.testclient import TestClient
    app = create_app(ServerSettings(model="tiny", api_keys=[KEY], data_dir=str(tmp_path), max_queued_jobs=2,
                                    job_limits={"max_steps": 100}), ServingEngine(*tiny, "tiny"))
    with TestClient(app) as c:
        for field, value in (("max_steps", 101), ("max_steps", 1e30), ("num_generations", 10**9), ("torch_threads", 10**6),
                             ("scenarios", "missing.jsonl"), ("model_name", "no-such-model")):
            r = c.post("/v1/jobs", headers=AUTH, json={"config": {**TINY_JOB, field: value}})
            assert r.status_code == 400 and r.json()["error"]["param"] == f"config.{field}", (field, r.text)
        assert [c.post("/v1/jobs", headers=AUTH, json={"config": TINY_JOB}).status_code for _ in range(3)] == [201, 201, 503]
        assert len(list((tmp_path / "jobs").iterdir())) == 2  # the refused requests left nothing

def test_a_truncated_record_does_not_stop_the_server(tiny, tmp_path, idle_jobs, caplog):
    "Item 10: an unreadable job.json is skipped and reported by name; the other jobs are listed."
    from fastapi.testclient import TestClient
    settings = ServerSettings(model="tiny", api_keys=[KEY], data_dir=str(tmp_path))
    app = create_app(settings, ServingEngine(*tiny, "tiny"))
    with TestClient(app) as c: ids = [c.post("/v1/jobs", headers=AUTH, json={"config": TINY_JOB}).json()["id"] for _ in range(2)]
    cut = tmp_path / "jobs" / ids[0] / "job.json"
    cut.write_text(cut.read_text()[:40])
    with caplog.at_level("WARNING"): again = create_app(settings, app.state.engine)
    assert str(cut) in caplog.text
    with TestClient(again) as c: assert [j["id"] for j in c.get("/v1/jobs", headers=AUTH).json()["data"]] == [ids[1]]

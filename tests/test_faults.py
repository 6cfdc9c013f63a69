"""Fault tests of training runs: `kill -9` at random moments (and at the worst moments of a checkpoint save), two
processes on one output folder. Each test drives the real `stateset-agents train` command on the tiny model."""
import json, os, random, signal, subprocess, sys, time
from pathlib import Path

import pytest
from safetensors.torch import load_file

CLI = str(Path(sys.executable).parent / "stateset-agents")
STEPS = 8
RUN = ["train", "--model-name", "tiny", "--max-steps", str(STEPS), "--save-steps", "1", "--num-generations", "2",
       "--prompts-per-step", "1", "--max-completion-length", "6", "--seed", "0", "--no-progress", "--no-evaluate-policy"]
RESUME = ["--no-progress", "--no-evaluate-policy"]
FAULTS = ["save_checkpoint.files", "replace_dir.before_cleanup", "train.logged"]  # see core.checks.fault_point; a kill between
# the two renames of a swap (replace_dir.between_renames) is tested in the checks chapter: a run never re-saves an existing checkpoint
DEBRIS = (".partial-", ".old-", ".tmp")  # what an interrupted write leaves until the next run cleans it up

def start(args: list[str], fault: str | None = None) -> subprocess.Popen:
    "Start `stateset-agents ARGS`, optionally armed to kill itself at a fault point."
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("STATESET_AGENTS_FAULT", None)
    if fault: env["STATESET_AGENTS_FAULT"] = fault
    return subprocess.Popen([CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

def checkpoints(out: Path) -> list[Path]:
    "The run's step checkpoints, oldest first."
    found = [p for p in out.glob("checkpoint-*") if p.name.split("-", 1)[1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-", 1)[1]))

def logged(out: Path) -> int:
    "How many lines metrics.jsonl has now."
    try: return (out / "metrics.jsonl").read_text().count("\n")
    except FileNotFoundError: return 0

def metric_lines(out: Path) -> list[dict]:
    "metrics.jsonl without the timings (which differ from run to run)."
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows]

def next_args(out: Path, rng: random.Random, more: bool) -> list[str]:
    "What a user would run next: resume from the latest checkpoint (sometimes an older one, always one when `more`), or start over."
    cks = checkpoints(out)
    if (out / "checkpoint-final").exists() and not more: return ["train", "--resume", str(out / "checkpoint-final"), *RESUME]
    if not cks: return [*RUN, "--output-dir", str(out), "--overwrite"]
    if (out / "checkpoint-final").exists(): return ["train", "--resume", str(rng.choice(cks[:-1] or cks)), *RESUME]
    return ["train", "--resume", str(rng.choice(cks) if rng.random() < 0.3 else cks[-1]), *RESUME]

def kill_somewhere(p: subprocess.Popen, out: Path, rng: random.Random) -> None:
    "Kill `p` with SIGKILL at a random moment: during start-up, or a random time after its next logged step."
    if rng.random() < 0.3: time.sleep(rng.uniform(0, 8))
    else:
        n, deadline = logged(out), time.time() + 120
        while p.poll() is None and logged(out) <= n and time.time() < deadline: time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.5))
    if p.poll() is None: p.send_signal(signal.SIGKILL)
    p.wait()

@pytest.mark.slow
def test_random_kills_lose_nothing(tmp_path):
    "However often a run is killed and resumed, it ends with the same weights and metrics as a run never killed."
    ref = tmp_path / "reference"
    p = start([*RUN, "--output-dir", str(ref)]); assert p.wait() == 0, p.stderr.read()
    out, rng, kills, finished, log = tmp_path / "killed", random.Random(0), 0, False, []
    for attempt in range(80):
        args = next_args(out, rng, more=kills < 20)
        if args[2].endswith("checkpoint-final"):  # done: one last resume must find nothing to do
            p = start(args); p.wait()
            assert p.returncode == 2 and "nothing to train" in p.stderr.read(), p.returncode
            finished = True; break
        fault = f"{rng.choice(FAULTS)}:{rng.randint(1, 3)}" if rng.random() < 0.35 else None
        p = start(args, fault)
        if fault: p.wait()
        else: kill_somewhere(p, out, rng)
        err = p.stderr.read()
        log.append((args[1:3], fault, p.returncode))
        if p.returncode == -signal.SIGKILL: kills += 1
        else: assert p.returncode == 0, (args, fault, p.returncode, err)
    assert finished and kills >= 20, (kills, log)
    final, want = load_file(str(out / "checkpoint-final" / "trainable.safetensors")), load_file(str(ref / "checkpoint-final" / "trainable.safetensors"))
    assert final.keys() == want.keys() and all((final[k] == want[k]).all() for k in want), "weights differ from the uninterrupted run"
    assert [r["step"] for r in metric_lines(out)] == list(range(1, STEPS + 1))  # each step exactly once
    assert metric_lines(out) == metric_lines(ref)  # and the same numbers
    debris = [p.name for p in out.iterdir() if any(d in p.name for d in DEBRIS)]
    assert debris == [], debris
    print(f"{kills} kills in {len(log)} attempts; faults hit: {sorted({f for _, f, rc in log if f and rc == -9})}")

@pytest.mark.slow
def test_one_run_per_folder(tmp_path):
    "A second process training into a folder that a running process holds is refused, naming the folder and pid."
    out = tmp_path / "run"
    first = start([*RUN, "--output-dir", str(out), "--max-steps", "200"])
    deadline = time.time() + 120
    while logged(out) == 0 and first.poll() is None and time.time() < deadline: time.sleep(0.05)
    second = start([*RUN, "--output-dir", str(out), "--overwrite"])
    assert second.wait() == 2
    err = second.stderr.read()
    assert f"{out} is in use by another run (pid {first.pid})" in err and len(err.splitlines()) == 1, err
    assert first.poll() is None  # the first run goes on, untouched
    first.send_signal(signal.SIGKILL); first.wait()
    third = start([*RUN, "--output-dir", str(out), "--max-steps", "1", "--overwrite"])  # the lock died with its holder
    assert third.wait() == 0, third.stderr.read()

def serve(data: Path, key: str, port: int) -> subprocess.Popen:
    "Start `stateset-agents serve --model tiny` on 127.0.0.1:`port` with one key; return once it is ready."
    import httpx
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "STATESET_AGENTS_API_KEYS": key}
    log = open(data / f"serve-{port}.log", "ab")
    p = subprocess.Popen([CLI, "serve", "--model", "tiny", "--port", str(port), "--data-dir", str(data)], env=env,
                         stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200: return p
        except httpx.TransportError: pass
        assert p.poll() is None, (data / f"serve-{port}.log").read_text()
        time.sleep(0.1)
    raise AssertionError("the server did not get ready")

def running(config: Path) -> list[int]:
    "Pids of live processes whose command line names `config` (a job's config.json)."
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try: args, stat = (proc / "cmdline").read_bytes().split(b"\0"), (proc / "stat").read_text()
        except OSError: continue
        if str(config).encode() in args and stat.rsplit(")", 1)[1].split()[0] != "Z": found.append(int(proc.name))
    return found

@pytest.mark.slow
def test_a_killed_server_leaves_no_orphan(tmp_path):
    "kill -9 the server mid-job: its training process dies with it, the restarted server's record agrees, checkpoints load."
    import httpx
    from stateset_agents.api.engine import load_served_model
    from stateset_agents.api.server import free_port
    from stateset_agents.training.checkpoints import read_checkpoint
    key = "fault-key-0123456789abcdef"
    auth, port = {"Authorization": f"Bearer {key}"}, free_port()
    server = serve(tmp_path, key, port)
    try:
        config = {"model_name": "tiny", "num_generations": 2, "prompts_per_step": 1, "max_completion_length": 4,
                  "max_steps": 500, "save_steps": 1}
        job = httpx.post(f"http://127.0.0.1:{port}/v1/jobs", headers=auth, json={"config": config}).json()
        out, deadline = Path(job["output_dir"]), time.time() + 180
        while logged(out) < 2 and time.time() < deadline: time.sleep(0.1)
        child = json.loads((out / "job.json").read_text())["pid"]
        assert logged(out) >= 2 and os.getpgid(child) == child  # training, in its own process group
    finally:
        server.send_signal(signal.SIGKILL); server.wait()
    deadline = time.time() + 30
    while running(out / "config.json") and time.time() < deadline: time.sleep(0.1)
    assert running(out / "config.json") == [], "the training process outlived its server"
    steps = logged(out)
    port = free_port()
    server = serve(tmp_path, key, port)
    try: record = httpx.get(f"http://127.0.0.1:{port}/v1/jobs/{job['id']}", headers=auth).json()
    finally: server.terminate(); server.wait(30)
    assert record["status"] == "failed" and record["error"].startswith("interrupted"), record
    time.sleep(1); assert logged(out) == steps  # nothing trains on unseen
    latest = checkpoints(out)[-1]
    assert read_checkpoint(latest)["meta"]["step"] >= 1
    load_served_model(str(latest.relative_to(tmp_path)), tmp_path)  # whole and servable

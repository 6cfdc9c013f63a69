"Monitoring across process and object boundaries: a second process scrapes /metrics, two dashboards share a process, alerts fire and resolve exactly once."
import asyncio, subprocess, sys

import pytest
from prometheus_client.parser import text_string_to_metric_families
from stateset_agents.utils.advanced_dashboard import AdvancedDashboard, create_production_dashboard, should_skip_step

SCRAPE = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"

def scrape_from_another_process(url: str) -> dict[str, float]:
    "Scrape `url` from a fresh Python process; {'name{labels}': value} for every sample."
    page = subprocess.run([sys.executable, "-c", SCRAPE, url], capture_output=True, text=True, check=True, timeout=60).stdout
    out = {}
    for family in text_string_to_metric_families(page):  # also proves the page is valid exposition format
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[s.name + (f"{{{labels}}}" if labels else "")] = s.value
    return out

@pytest.fixture
def dashboards():
    made = []
    def make(**kwargs):
        made.append(AdvancedDashboard(**kwargs))
        return made[-1]
    yield make
    for d in made: d.stop_monitoring_sync()

def test_second_process_sees_logged_values(dashboards):
    "The design's series names, with the policy's model as their `model` label, as another process scrapes them."
    d = dashboards(model_name="SmolLM2-135M-Instruct")
    url = d.start_exporter()
    assert d.exporter.server.server_address[0] == "127.0.0.1"  # loopback unless asked otherwise
    d.log_metric_sync("train.loss", 2.45)  # the design's spelling
    asyncio.run(d.log_metric("train.reward", 0.78))  # the async twin
    d.on_step(1, {"train/kl": 0.02, "completions/mean_length": 37, "train/loss": 2.4})
    d.log_metric_sync("gpu/memory_used", 2.0e9, tags={"gpu": "0"})
    seen = scrape_from_another_process(url)
    assert seen['grpo_train_loss{model="SmolLM2-135M-Instruct"}'] == 2.4
    assert seen['grpo_train_reward{model="SmolLM2-135M-Instruct"}'] == 0.78
    assert seen['grpo_kl_divergence{model="SmolLM2-135M-Instruct"}'] == 0.02
    names = {k.partition("{")[0] for k in seen}
    assert not {"stateset_train_loss", "stateset_train_reward", "stateset_train_kl_nats"} & names, sorted(names)  # one name per quantity
    assert not any("episode" in k for k in seen)  # no label that grows a series per episode
    assert seen["stateset_completions_mean_length_tokens"] == 37
    assert seen['stateset_gpu_memory_used_bytes{gpu="0"}'] == 2.0e9
    assert seen["stateset_train_steps_total"] == 1 and seen["stateset_train_step"] == 1

def test_two_dashboards_in_one_process(dashboards):
    a, b = dashboards(), dashboards()
    urls = a.start_exporter(), b.start_exporter()
    assert urls[0] != urls[1]
    a.log_metric_sync("train.loss", 1.0)
    b.log_metric_sync("train.loss", 2.0)
    b.log_metric_sync("eval.loss", 3.0)
    seen_a, seen_b = (scrape_from_another_process(u) for u in urls)
    assert seen_a['grpo_train_loss{model=""}'] == 1.0 and "stateset_eval_loss" not in seen_a  # no model name: an empty label
    assert seen_b['grpo_train_loss{model=""}'] == 2.0 and seen_b["stateset_eval_loss"] == 3.0
    production = create_production_dashboard(enable_alerts=True, model_name="tiny")  # a third, with every default rule, still fine
    production.log_metric_sync("train.loss", 2.45)
    assert 'grpo_train_loss{model="tiny"} 2.45' in production.exporter.text()

def test_service_series_and_breaker_rule_over_a_scrape(dashboards):
    "An API server's counter and histogram through the dashboard's exporter, and an open breaker's alert, as a scrape sees them."
    events = []
    d = dashboards(alert_callback=events.append, alert_cooldown_s=0)
    url = d.start_exporter()
    requests = d.exporter.counter("api/requests")
    latency = d.exporter.histogram("api/latency", buckets=(0.1, 1.0))
    for status, seconds in [("200", 0.05), ("200", 0.5), ("503", 2.0)]:
        requests.labels(route="/chat", status=status).inc()
        latency.labels(route="/chat").observe(seconds)
    d.log_metric_sync("breaker/state", 2, tags={"breaker": "judge"})
    d.log_metric_sync("breaker/state", 0, tags={"breaker": "search"})
    seen = scrape_from_another_process(url)
    assert seen['api_requests_total{route="/chat",status="200"}'] == 2 and seen['api_requests_total{route="/chat",status="503"}'] == 1
    assert seen['api_latency_seconds_bucket{le="0.1",route="/chat"}'] == 1 and seen['api_latency_seconds_count{route="/chat"}'] == 3
    assert seen['stateset_breaker_state{breaker="judge"}'] == 2
    assert seen['stateset_alerts_firing{severity="error"}'] == 1  # breaker_open: the search breaker's "closed" did not resolve it
    assert [(e.state, e.rule) for e in events] == [("firing", "breaker_open")]

def test_threshold_fires_once_and_resolves_once(dashboards):
    events = []
    d = dashboards(alert_callback=events.append)
    d.alert_manager.add_threshold("train.loss", "warning", 10.0)
    for v in [1.0, 2.0, 11.0, 12.0, float("nan"), 50.0, 13.0, 9.0, 3.0, 2.0]:  # breached for five values, then clear
        d.log_metric_sync("train/loss", v)
    threshold = [(e.state, e.value) for e in events if e.rule == "warning: train/loss > 10"]
    assert threshold == [("firing", 11.0), ("resolved", 9.0)]  # NaN left it firing: it says nothing about a threshold
    nan_rule = [(e.state, e.severity) for e in events if e.rule == "nonfinite_loss"]
    assert nan_rule == [("firing", "critical"), ("resolved", "critical")]  # the NaN itself is the health rule's business
    fired, resolved = [e for e in d.alert_manager.get_alert_history() if e.rule == "warning: train/loss > 10"]
    assert fired.fired_at == resolved.fired_at <= resolved.resolved_at
    assert d.alert_manager.get_active_alerts() == []
    text = d.exporter.text()
    assert 'stateset_alerts_total{severity="warning"} 1.0' in text and 'stateset_alerts_firing{severity="warning"} 0.0' in text

def test_async_callback_hears_both_events_inside_a_running_loop(dashboards):
    heard = []
    async def callback(alert): heard.append(alert.state)
    d = dashboards(alert_callback=callback)
    d.alert_manager.add_threshold("train/kl", "error", 0.5)
    async def run():
        for v in (0.1, 0.9, 0.8, 0.2): await d.log_metric("train.kl", v)
        await asyncio.sleep(0)  # the callbacks were scheduled on this loop
    asyncio.run(run())
    assert heard == ["firing", "resolved"]

def test_nan_loss_is_critical_and_skipped(dashboards):
    "What a trainer's loop does with a NaN loss: skip the update, report the step, get one critical alert."
    events = []
    d = dashboards(alert_callback=events.append)
    d.on_train_begin(total_steps=3)
    applied = []
    for step, loss in enumerate([0.9, float("nan"), 0.8], start=1):
        metrics = {"train/loss": loss, "train/grad_norm": 1.0}
        if not should_skip_step(metrics): applied.append(step)
        d.on_step(step, metrics)
    assert applied == [1, 3]
    assert [(e.state, e.severity, e.rule) for e in events] == [("firing", "critical", "nonfinite_loss"), ("resolved", "critical", "nonfinite_loss")]
    assert "stateset_train_skipped_steps_total 1.0" in d.exporter.text()

def test_monitoring_is_torch_free():
    "The monitoring layer imports neither torch nor the training layer."
    code = ("import sys, stateset_agents.utils.advanced_dashboard, stateset_agents.utils.live_dashboard; "
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith('stateset_agents.training')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

def test_fixed_port_in_use_names_host_and_port(dashboards):
    "A fixed port another process holds: an OSError that says where, and what to do; nothing half-started."
    import errno, socket
    with socket.socket() as holder:  # a plain listener stands in for another process's server
        holder.bind(("127.0.0.1", 0)); holder.listen()
        port = holder.getsockname()[1]
        d = dashboards(prometheus_port=port)
        with pytest.raises(OSError) as info:
            d.start_monitoring_sync()
    assert info.value.errno == errno.EADDRINUSE
    assert f"127.0.0.1:{port}" in str(info.value) and "choose another port, or port 0 for a free one" in str(info.value)
    assert d.exporter.url is None and d._monitor is None
    assert d.start_exporter().endswith(f":{port}/metrics")  # the port is free again: the same dashboard can serve

def test_reserved_names_are_refused_and_leave_no_trace(dashboards):
    "A user metric named like the dashboard's own series is refused; a scrape still shows the dashboard's value."
    d = dashboards()
    url = d.start_exporter()
    d.on_step(3, {"train/loss": 0.5})
    for name in ("train/step", "train.step", "train_step", "train/steps", "alerts/firing"):
        with pytest.raises(ValueError, match="is reserved"):
            d.log_metric_sync(name, 99.0)
    with pytest.raises(ValueError, match="'train/step' is reserved"):
        d.on_step(4, {"train/loss": 0.4, "train/step": 99.0})
    seen = scrape_from_another_process(url)
    assert seen["stateset_train_step"] == 3 and seen["stateset_train_steps_total"] == 1 and seen['grpo_train_loss{model=""}'] == 0.5
    assert d.aggregator.names == ["train/loss"] and d.step == 3

def test_health_rules_do_not_load_the_exporter():
    "What a trainer imports (the health rules) loads neither Prometheus nor psutil nor the alert and dashboard modules."
    code = ("import sys, stateset_agents.utils.health; "
            "bad = [m for m in sys.modules if m in ('prometheus_client', 'psutil', 'torch') or m.startswith('stateset_agents.training') "
            "or m in ('stateset_agents.utils.prometheus', 'stateset_agents.utils.alerts', 'stateset_agents.utils.advanced_dashboard')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)

def test_monitoring_layers_import_downwards_only():
    "Each monitoring module imports only the layers below it (read from the exported source), and nothing from training."
    import ast
    from pathlib import Path
    utils = Path(__file__).resolve().parents[1] / "stateset_agents" / "utils"
    allowed = {"metrics": set(), "alerts": {"metrics"}, "health": {"metrics"}, "prometheus": {"metrics"},
               "advanced_dashboard": {"metrics", "alerts", "health", "prometheus"},
               "live_dashboard": {"metrics", "alerts", "health", "prometheus", "advanced_dashboard"}}
    for module, ok in allowed.items():
        tree = ast.parse((utils / f"{module}.py").read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1: imported.add(node.module.split(".")[0])  # from .x import
            if isinstance(node, ast.ImportFrom) and node.level == 2: imported.add("../" + node.module)  # from ..core.x import
            if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "level", 0) == 0:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert not any(n.startswith("stateset_agents") for n in names), (module, names)
        siblings = {m for m in imported if not m.startswith("../")}
        assert siblings <= ok, (module, siblings - ok)
        assert all(m.startswith("../core.") for m in imported - siblings), (module, imported - siblings)

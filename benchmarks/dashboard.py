"""Cost of one sync `AdvancedDashboard.log_metric_sync` beside a bare prometheus-client `Gauge.set`, in the same run.

    python benchmarks/dashboard.py                 # default: 41 rounds of 2,000 calls per side
    python benchmarks/dashboard.py --rounds 11     # a quick check

One `log_metric_sync("train.loss", x)` does everything a logged value costs: the name lookup, the value check,
the aggregator append, the metric's alert rules (here two: the training-health NaN rule and a threshold, both
evaluated on every value) and the Prometheus gauge update. The baseline is the gauge update alone. Rounds
alternate (dashboard, bare, dashboard, ...) so machine-load drifts hit both sides; each round's time is divided
by its calls, and we report the median round of each side, their ratio, and whether the dashboard meets the
target (<= 20 us a call). Exit status 1 when it does not.
"""
import argparse, random, statistics, time

from prometheus_client import CollectorRegistry, Gauge
from stateset_agents.utils.advanced_dashboard import AdvancedDashboard

TARGET_US = 20.0

def time_calls(fn, values) -> float:
    "Seconds per call of `fn(v)` over `values`."
    t = time.perf_counter()
    for v in values: fn(v)
    return (time.perf_counter() - t) / len(values)

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=41, help="timed rounds per side")
    p.add_argument("--calls", type=int, default=2000, help="calls per round")
    a = p.parse_args()
    rng = random.Random(0)
    values = [2.0 + rng.random() for _ in range(a.calls)]  # realistic losses, never above the threshold
    dashboard = AdvancedDashboard(enable_prometheus=True)  # health rules on, as under a trainer
    dashboard.alert_manager.add_threshold("train.loss", "warning", 10.0)
    gauge = Gauge("bare_train_loss", "baseline", registry=CollectorRegistry())
    log = lambda v: dashboard.log_metric_sync("train.loss", v)
    for fn in (log, gauge.set): time_calls(fn, values)  # warm-up
    ours, bare = [], []
    for _ in range(a.rounds):
        ours.append(time_calls(log, values))
        bare.append(time_calls(gauge.set, values))
    m_ours, m_bare = statistics.median(ours) * 1e6, statistics.median(bare) * 1e6
    rules = len(dashboard.alert_manager.rules_for("train/loss"))
    print(f"log_metric_sync (aggregate + {rules} alert rules + gauge): {m_ours:.2f} us median a call")
    print(f"bare Gauge.set:                                 {m_bare:.2f} us median a call")
    print(f"ratio: {m_ours / m_bare:.1f}x; target <= {TARGET_US:.0f} us: {'met' if m_ours <= TARGET_US else 'MISSED'}")
    assert dashboard.aggregator.get_stats("train/loss")["count"] == a.calls * (a.rounds + 1)  # every call was recorded
    raise SystemExit(0 if m_ours <= TARGET_US else 1)

if __name__ == "__main__":
    main()

"""Prometheus scrape config and alert rules, Grafana provisioning and dashboards: they parse,
scrape every service of the topology, and query only metrics that exist.

`promtool` (Debian package `prometheus`) checks the config and runs the rules' unit tests
when it is on PATH.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from chassis import metrics, registry
from tests.deploy.topology import BROKERS, ROOT, app_containers, load_compose

PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

# Gauges the alerts and dashboards rely on beyond the entrypoint and outbox metrics.
EXPECTED_PLATFORM_METRICS = {
    "aftersales_dead_letter_queue_messages",
    "aftersales_uplink_running",
    "aftersales_site_last_event_timestamp_seconds",
}
# From RabbitMQ's rabbitmq_prometheus plugin (3.13), as the dashboards use them.
RABBITMQ_METRICS = {
    "rabbitmq_queue_messages", "rabbitmq_queue_messages_ready", "rabbitmq_queue_messages_unacked",
    "rabbitmq_channel_messages_published_total", "rabbitmq_channel_messages_confirmed_total",
    "rabbitmq_channel_messages_unroutable_dropped_total",
    "rabbitmq_channel_messages_delivered_ack_total", "rabbitmq_channel_messages_acked_total",
    "rabbitmq_channel_messages_redelivered_total", "rabbitmq_connections", "rabbitmq_channels",
    "rabbitmq_consumers", "rabbitmq_process_resident_memory_bytes",
    "rabbitmq_resident_memory_limit_bytes", "rabbitmq_disk_space_available_bytes",
}
METRIC = re.compile(r"\b(?:aftersales|rabbitmq)_[a-z0-9_]+\b")


def _service_metric_modules() -> list[Any]:
    """Each installed service's own `<service>.metrics` module (partners' deliveries), whose
    metrics register in the chassis registry when imported."""
    found = []
    for name in registry.service_names():
        try:
            found.append(importlib.import_module(f"{name}.metrics"))
        except ModuleNotFoundError:
            continue
    return found


SERVICE_METRICS = _service_metric_modules()


def platform_metrics() -> set[str]:
    """Every series name chassis.metrics exposes (counters as _total, histogram parts)."""
    names = set()
    for family in metrics.REGISTRY.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{part}" for part in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
    return names


KNOWN = platform_metrics() | RABBITMQ_METRICS | {"up"}
# Labels Prometheus adds to every series of a target (prometheus.yml, kubernetes.yml).
TARGET_LABELS = {"job", "instance", "site", "broker", "namespace", "pod"}
RABBITMQ_LABELS = {"vhost", "queue", "channel", "exchange"}


def labels_of(name: str) -> set[str]:
    """The labels a series carries by the chassis' declaration (histograms add `le`)."""
    declared = {wrapper._name: set(wrapper._labelnames)
                for module in (metrics, *SERVICE_METRICS) for wrapper in vars(module).values()
                if isinstance(wrapper, MetricWrapperBase)}
    base = re.sub(r"_(total|bucket|sum|count)$", "", name)
    extra = {"le"} if name.endswith("_bucket") else set()
    if name.startswith("rabbitmq_"):
        return RABBITMQ_LABELS
    return declared.get(base, declared.get(name, set())) | extra


def unknown_labels(expr: str) -> set[str]:
    """Labels the expression groups or filters by that none of its series carries."""
    used = {label.strip() for group in re.findall(r"\bby\s*\(([^)]*)\)", expr)
            for label in group.split(",") if label.strip()}
    for selector in re.findall(r"\{([^}]*)\}", expr):
        used |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector))
    carried = TARGET_LABELS.union(*(labels_of(name) for name in metric_names(expr)))
    return used - carried


def metric_names(expr: str) -> set[str]:
    names = set(METRIC.findall(expr))
    if re.search(r"\bup\b(?=\s*[{=<>!])", expr):
        names.add("up")
    return names


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load(PROMETHEUS / "alerts.yml")["groups"]
            for rule in group["rules"]]


def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            found.append((panel["title"], target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        found.append((f"${variable['name']}", variable["definition"]))
    return found


def test_the_metrics_the_alerts_need_exist_in_the_chassis():
    missing = EXPECTED_PLATFORM_METRICS - platform_metrics()
    assert not missing, f"not exposed by chassis.metrics yet: {sorted(missing)}"


def test_prometheus_scrapes_every_service_and_broker_of_the_compose_topology():
    config = load(PROMETHEUS / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {(target, group["labels"]["site"])
               for group in jobs["aftersales"]["static_configs"] for target in group["targets"]}
    for app in app_containers(load_compose()):
        host_port, _ = app.published_port()
        assert (f"{app.name}:{host_port}", app.site) in targets, app.name
    assert len(targets) == len(app_containers(load_compose()))
    brokers = {(target, group["labels"]["site"])
               for group in jobs["rabbitmq"]["static_configs"] for target in group["targets"]}
    assert brokers == {(f"{broker}:15692", site) for site, broker in BROKERS.items()}
    assert jobs["rabbitmq"]["metrics_path"] == "/metrics/per-object"  # queue depth by queue
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS / rule_file).is_file()


def test_the_compose_prometheus_mounts_the_files_it_names():
    prometheus = load_compose()["services"]["prometheus"]
    mounted = {target: source for source, target in
               (str(v).split(":")[:2] for v in prometheus["volumes"])}
    assert mounted["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"
    for rule_file in load(PROMETHEUS / "prometheus.yml")["rule_files"]:
        assert mounted[f"/etc/prometheus/{rule_file}"] == f"./deploy/prometheus/{rule_file}"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_each_alert_has_severity_summary_and_known_metrics(rule):
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["annotations"]["summary"].strip()
    unknown = metric_names(rule["expr"]) - KNOWN
    assert metric_names(rule["expr"]) and not unknown, unknown
    assert not unknown_labels(rule["expr"]), unknown_labels(rule["expr"])


def test_the_alerts_cover_dead_letters_outbox_links_failures_silence_and_targets():
    used = set().union(*(metric_names(rule["expr"]) for rule in alert_rules()))
    assert used >= EXPECTED_PLATFORM_METRICS | {
        "aftersales_outbox_oldest_pending_age_seconds", "aftersales_entrypoint_failures_total",
        "aftersales_entrypoint_requests_total", "aftersales_handler_retries_total", "up"}


def test_the_rule_unit_tests_cover_the_dead_letter_and_outbox_alerts():
    tests = load(PROMETHEUS / "alerts.test.yml")
    assert tests["rule_files"] == ["alerts.yml"]
    tested = {case["alertname"] for test in tests["tests"]
              for case in test.get("alert_rule_test", [])}
    assert {"AftersalesDeadLettersPresent", "AftersalesOutboxStuck"} <= tested
    assert tested <= {rule["alert"] for rule in alert_rules()}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_each_dashboard_queries_only_known_metrics(path):
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"]
    queries = panel_queries(dashboard)
    assert queries
    for title, expr in queries:
        names = metric_names(expr)
        assert names, f"{title}: {expr} queries no metric"
        assert names <= KNOWN, f"{title}: unknown {sorted(names - KNOWN)}"
        assert not unknown_labels(expr), f"{title}: no such label {unknown_labels(expr)}"


def test_dashboards_use_the_provisioned_datasource():
    (source,) = load(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert source["url"] == "http://prometheus:9090"
    for path in DASHBOARDS:
        text = path.read_text(encoding="utf-8")
        uids = set(re.findall(r'"uid":\s*"([^"]+)"', text)) - {json.loads(text)["uid"]}
        assert uids == {source["uid"]}, path.name


def test_the_overview_shows_what_the_operations_team_watches():
    overview = json.loads((GRAFANA / "dashboards" / "platform-overview.json").read_text())
    used = set().union(*(metric_names(expr) for _, expr in panel_queries(overview)))
    assert used >= EXPECTED_PLATFORM_METRICS | {
        "aftersales_entrypoint_requests_total", "aftersales_entrypoint_failures_total",
        "aftersales_outbox_oldest_pending_age_seconds", "aftersales_outbox_pending_rows",
        "aftersales_entrypoint_duration_seconds_bucket"}
    rabbit = json.loads((GRAFANA / "dashboards" / "rabbitmq.json").read_text())
    used = set().union(*(metric_names(expr) for _, expr in panel_queries(rabbit)))
    assert used >= {"rabbitmq_queue_messages", "rabbitmq_channel_messages_published_total",
                    "rabbitmq_channel_messages_delivered_ack_total", "rabbitmq_connections"}


def test_grafana_provisioning_loads_the_dashboards_compose_mounts():
    (provider,) = load(GRAFANA / "provisioning" / "dashboards" / "aftersales.yml")["providers"]
    grafana = load_compose()["services"]["grafana"]
    mounted = {target: source for source, target in
               (str(v).split(":")[:2] for v in grafana["volumes"])}
    assert mounted[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    assert mounted["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: prometheus)")
@pytest.mark.parametrize("args", [
    ["check", "config", "prometheus.yml"],
    ["check", "rules", "alerts.yml"],
    ["test", "rules", "alerts.test.yml"],
], ids=lambda args: " ".join(args[:2]))
def test_promtool_accepts_the_config_and_the_rules_pass_their_tests(args):
    result = subprocess.run([PROMTOOL, *args], cwd=PROMETHEUS, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_in_cluster_scrape_config_labels_pods_by_their_site():
    config = load(PROMETHEUS / "kubernetes.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    relabel = jobs["aftersales"]["relabel_configs"]
    assert {"source_labels": ["__meta_kubernetes_pod_label_aftersales_io_site"],
            "target_label": "site"} in relabel
    overlays = ROOT / "deploy" / "k8s"
    for overlay in ("site", "headquarters"):
        (labels,) = load(overlays / overlay / "kustomization.yaml")["labels"]
        assert "aftersales.io/site" in labels["pairs"] and labels["includeTemplates"] is True
    assert config["rule_files"] == ["alerts.yml"]

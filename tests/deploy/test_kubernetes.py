"""Kubernetes manifests: Kustomize base and the site and headquarters overlays.

Read as YAML without a cluster; when `kubectl` is on PATH the overlays are also rendered with
its built-in Kustomize and the rendered objects are checked.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from chassis.config import ConfigError, load_settings
from chassis.identity import HEADQUARTERS_SCOPE, SITE_SCOPE
from chassis.registry import HEADQUARTERS, SITE, services_running_on
from tests.deploy.topology import (
    HQ_STACK,
    IDENTITY,
    OWN_SECRETS,
    PORTAL,
    ROOT,
    SECRET_SETTINGS,
    SITE_STACK,
    fake_secret,
    fake_secrets_env,
    read_own_secrets,
    with_secret_files,
)

K8S = ROOT / "deploy" / "k8s"
OVERLAYS = {"site": SITE_STACK, "headquarters": HQ_STACK}
STACKS = {"site": SITE, "headquarters": HEADQUARTERS}


def kustomization(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))


def manifests_of(folder: Path) -> list[Path]:
    """Every manifest file a kustomization includes, following folders it names."""
    found = []
    for entry in kustomization(folder).get("resources") or []:
        path = (folder / entry).resolve()
        found += manifests_of(path) if path.is_dir() else [path]
    return found


def generated_files(folder: Path) -> list[Path]:
    return [folder / f.split("=")[-1] for gen in kustomization(folder).get("configMapGenerator")
            or [] for f in gen.get("files") or []]


def literals(folder: Path, name: str) -> dict[str, str]:
    for gen in kustomization(folder).get("configMapGenerator") or []:
        if gen["name"] == name:
            return dict(item.split("=", 1) for item in gen.get("literals") or [])
    return {}


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


ALL_MANIFESTS = sorted({p for overlay in OVERLAYS for p in manifests_of(K8S / overlay)})


@pytest.mark.parametrize("path", ALL_MANIFESTS, ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_parses_and_names_its_kind(path):
    for doc in documents(path):
        assert doc.get("apiVersion") and doc.get("kind"), path
        assert doc.get("metadata", {}).get("name"), path


def test_every_yaml_file_is_a_kustomization_a_manifest_or_a_generated_config():
    used = {*ALL_MANIFESTS}
    for folder in {p.parent for p in K8S.rglob("kustomization.yaml")}:
        used |= {folder / "kustomization.yaml", *generated_files(folder)}
    for path in K8S.rglob("*.y*ml"):
        assert path.resolve() in {p.resolve() for p in used}, f"{path} is used by nothing"


def base_deployment() -> dict[str, Any]:
    (doc,) = [d for d in documents(K8S / "base" / "deployment.yaml") if d["kind"] == "Deployment"]
    return doc


def check_deployment(deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    name = deployment["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True, name
    for container in pod["containers"] + pod.get("initContainers", []):
        assert container["image"], name
        assert container["resources"]["requests"] and container["resources"]["limits"], name
    (service,) = pod["containers"]
    assert service["livenessProbe"]["httpGet"]["path"] == "/health", name
    assert service["readinessProbe"]["httpGet"]["path"] == "/ready", name
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == service["ports"][0]["containerPort"]
    (migrate,) = pod["initContainers"]
    assert migrate["args"][-3:-1] == ["db", "upgrade"], name
    assert service["args"][-2] == "run", name


def test_the_base_deployment_has_probes_resources_image_and_a_migration_step():
    check_deployment(base_deployment())


def test_the_pod_runs_the_service_its_label_names():
    pod = base_deployment()["spec"]["template"]["spec"]
    for container in pod["containers"] + pod["initContainers"]:
        assert container["args"][-1] == "$(AFTERSALES_SERVICE)"
        (env,) = [e for e in container["env"] if e["name"] == "AFTERSALES_SERVICE"]
        assert env["valueFrom"]["fieldRef"]["fieldPath"] == \
            "metadata.labels['app.kubernetes.io/name']"
    for overlay, services in OVERLAYS.items():
        for service in services:
            labels = kustomization(K8S / overlay / service)["labels"][0]
            assert labels["pairs"]["app.kubernetes.io/name"] == service
            assert labels["includeSelectors"] is True


def secret_mounts(overlay: str, service: str) -> dict[str, str]:
    """{mount path: Secret name} the service's kustomization adds to its container."""
    volumes, mounted = {}, {}
    for patch in kustomization(K8S / overlay / service).get("patches") or []:
        for op in yaml.safe_load(patch.get("patch") or "[]"):
            value = op.get("value") or {}
            if op["path"] == "/spec/template/spec/volumes/-" and "secret" in value:
                volumes[value["name"]] = value["secret"]["secretName"]
            if op["path"] == "/spec/template/spec/containers/0/volumeMounts/-":
                mounted[value["name"]] = value["mountPath"]
    return {mounted[name]: secret for name, secret in volumes.items() if name in mounted}


def overlay_settings(overlay: str, service: str, env: dict[str, str] | None = None):
    folder = K8S / overlay
    (config,) = generated_files(folder)
    env = {**literals(folder, "aftersales-env"), **fake_secrets_env(), **(env or {})}
    return load_settings(service, config, env=env)


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_each_service_of_an_overlay_loads_valid_settings(overlay, tmp_path):
    folder = K8S / overlay
    (config,) = generated_files(folder)
    for service in OVERLAYS[overlay]:
        settings = overlay_settings(overlay, service)
        assert settings.http_host == "0.0.0.0"
        assert settings.http_port == base_deployment()["spec"]["template"]["spec"][
            "containers"][0]["ports"][0]["containerPort"]
        assert settings.dealer_code == ("HQ" if overlay == "headquarters" else "D001")
        assert settings.environment == "production"
        assert settings.stack == STACKS[overlay]  # identity's too, from the stack's file
        # The service's own secrets: files of its own Secret, mounted in its container.
        files = {}
        for mount, secret in secret_mounts(overlay, service).items():
            assert secret == f"{service}-secrets"
            for name in OWN_SECRETS.get(service, ()):
                local = tmp_path / overlay / service / name
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_text(fake_secret(name), encoding="utf-8")
                files[f"{mount}/{name}"] = local
        assert bool(files) == (service in OWN_SECRETS), service
        read_own_secrets(with_secret_files(settings, files))
    written = yaml.safe_load(config.read_text(encoding="utf-8"))
    assert not {"auth_secret", "amqp_uri"} & set(written), "secrets belong in the Secret"
    for service, own in (written.get("services") or {}).items():
        assert not set(SECRET_SETTINGS) & set(own), f"{service}: a secret in the ConfigMap"


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_a_missing_secret_file_stops_the_start(overlay):
    for service in OWN_SECRETS.keys() & set(OVERLAYS[overlay]):
        with pytest.raises(ConfigError, match="_file: cannot read /run/secrets/aftersales/"):
            read_own_secrets(overlay_settings(overlay, service))


def test_each_stack_trusts_its_own_identity_and_headquarters_no_site():
    hq_issuer = overlay_settings("headquarters", IDENTITY).extra["issuer"]
    site_issuer = overlay_settings("site", IDENTITY).extra["issuer"]
    assert hq_issuer != site_issuer
    for service in HQ_STACK:
        trust = overlay_settings("headquarters", service).trust
        assert [(t.issuer, t.scope) for t in trust] == [(hq_issuer, HEADQUARTERS_SCOPE)]
        # Its own keys from its own identity Service, inside the cluster.
        assert trust[0].jwks_url == "http://aftersales-identity:8000/.well-known/jwks.json"
    for service in SITE_STACK:
        trust = overlay_settings("site", service).trust
        assert [(t.issuer, t.scope, t.dealer_code) for t in trust] == [
            (site_issuer, SITE_SCOPE, "D001"), (hq_issuer, HEADQUARTERS_SCOPE, None)]
        assert trust[0].jwks_url == "http://aftersales-identity:8000/.well-known/jwks.json"
        assert trust[1].jwks_url.startswith(hq_issuer)
    # Headquarters given a site's issuer refuses to start.
    site_trust = literals(K8S / "site", "aftersales-env")["AFTERSALES_TRUST"]
    with pytest.raises(ConfigError, match=r"^trust\[0\]: headquarters trusts no site's issuer"):
        overlay_settings("headquarters", "crm", env={"AFTERSALES_TRUST": site_trust})


def test_the_overlays_run_every_service_the_code_places_in_their_stack():
    for overlay, services in OVERLAYS.items():
        assert sorted(services) == services_running_on(STACKS[overlay]), overlay
        named = [str(entry) for entry in kustomization(K8S / overlay)["resources"]]
        assert set(services) <= set(named), overlay


# What a portal calls in each stack, by its setting (owners sign in at headquarters').
PORTAL_BACKENDS = {"site": {"booking_url": "booking", "workorder_url": "workorder",
                            "identity_url": IDENTITY},
                   "headquarters": {"identity_url": IDENTITY, "crm_url": "crm",
                                    "notify_url": "notify"}}


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_each_portal_calls_its_own_stacks_services_at_their_cluster_services(overlay):
    from portal.settings import SERVICE_URLS, PortalSettings

    settings = overlay_settings(overlay, PORTAL)
    extra = settings.extra
    port = base_deployment()["spec"]["template"]["spec"]["containers"][0]["ports"][0][
        "containerPort"]
    for name, service in PORTAL_BACKENDS[overlay].items():
        assert service in OVERLAYS[overlay]
        assert extra[name] == f"http://aftersales-{service}:{port}", name
    hq_issuer = overlay_settings("headquarters", IDENTITY).extra["issuer"]
    owners = {"owner_identity_url": hq_issuer} if overlay == "site" else {}
    assert {n for n in SERVICE_URLS if extra.get(n)} == {*PORTAL_BACKENDS[overlay], *owners}
    assert {n: extra[n] for n in owners} == owners
    # Published by the cluster's ingress over TLS: its cookies are Secure.
    options = PortalSettings.from_settings(dataclasses.replace(
        settings, extra={**extra, "session_secret": fake_secret("session_secret")}))
    assert options.public_url.startswith("https://") and options.secure_cookies


def test_owners_links_open_their_sites_portal_and_headquarters_pages_its_own():
    site_portal = overlay_settings("site", PORTAL).extra["public_url"]
    notify = overlay_settings("headquarters", "notify").extra
    assert notify["owner_pages"] == {"D001": site_portal}
    assert notify["portal_url"] == overlay_settings("headquarters", PORTAL).extra["public_url"]
    assert overlay_settings("site", "workorder").extra["owner_portal_url"] == site_portal


def test_the_readme_has_another_dealer_set_every_per_dealer_setting_of_the_site():
    readme = (K8S / "README.md").read_text(encoding="utf-8")
    example = readme[readme.index("## Another dealer site"):]
    for name in literals(K8S / "site", "aftersales-env"):
        assert f"- {name}=" in example or f"{name}=[" in example, name


def test_no_secret_object_is_committed():
    for path in K8S.rglob("*.y*ml"):
        for doc in documents(path):
            assert doc.get("kind") != "Secret", path
            assert "secretGenerator" not in doc, path


def test_the_readme_says_broker_and_database_are_external():
    readme = (K8S / "README.md").read_text(encoding="utf-8")
    assert "RabbitMQ and PostgreSQL are external" in readme
    assert "aftersales-secrets" in readme


def test_the_readme_has_operators_create_each_stacks_secrets_in_its_own_namespace():
    readme = (K8S / "README.md").read_text(encoding="utf-8")
    for overlay, services in OVERLAYS.items():
        namespace = kustomization(K8S / overlay)["namespace"]
        for service in OWN_SECRETS.keys() & set(services):
            command = re.search(rf"kubectl -n {namespace} create secret generic "
                                rf"{service}-secrets((?:[^\n]*\\\n)*[^\n]*)", readme)
            assert command, f"{namespace}: {service}-secrets"
            for name in OWN_SECRETS[service]:
                assert f"--from-literal={name}=\"$(" in command[1], (service, name)
    # Headquarters is not given the sites' secrets, nor any token secret to share.
    assert "AUTH_SECRET" not in readme and "same token secret" not in readme


@cache
def rendered(overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(["kubectl", "kustomize", str(K8S / overlay)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_the_rendered_overlay_has_one_deployment_and_service_per_service(overlay):
    objects = rendered(overlay)
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    labelled = sorted(d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
                      for d in deployments)
    assert labelled == sorted(OVERLAYS[overlay])
    generated = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    for deployment in deployments:
        check_deployment(deployment)
        pod = deployment["spec"]["template"]["spec"]
        assert not pod["containers"][0]["image"].startswith("aftersales:"), "images: not applied"
        # Generated ConfigMaps (name + hash) are what the pod refers to.
        refs = {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
        refs |= {e["configMapRef"]["name"] for e in pod["containers"][0]["envFrom"]
                 if "configMapRef" in e}
        assert refs <= generated, refs - generated
        name = deployment["metadata"]["name"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert services[name]["spec"]["selector"] == selector
        assert deployment["metadata"]["namespace"].startswith("aftersales-")
        # A service's own Secret is mounted in its container alone, never in the migration
        # step; the stack's connections come from aftersales-secrets.
        service = deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        assert set(secrets.values()) == ({f"{service}-secrets"} if service in OWN_SECRETS
                                         else set()), name
        (container,) = pod["containers"]
        assert {m["name"] for m in container["volumeMounts"]} >= set(secrets)
        for init in pod["initContainers"]:
            assert not {m["name"] for m in init["volumeMounts"]} & set(secrets), name
        refs = {e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e}
        refs |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env") or []
                 if "secretKeyRef" in (e.get("valueFrom") or {})}
        assert refs <= {"aftersales-secrets", f"{service}-secrets"}, refs
    assert not [o for o in objects if o["kind"] == "Secret"], "Secrets are created per stack"

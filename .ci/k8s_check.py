#!/usr/bin/env python3
"""Offline checks of the Kubernetes manifests (run by .ci/run).

1. `kubectl kustomize` renders every overlay (dev with a throwaway sesame.env,
   since the real one is never in git).
2. `kubernetes-validate --strict` checks every rendered object against the
   OpenAPI schemas of KUBERNETES_VERSION: an unknown or misspelt field fails.
3. A policy check of the security and availability settings k8s/README.md
   promises (non-root, read-only root, no privilege escalation, capabilities
   dropped, seccomp, no service-account token, probes, drain timing, no secret
   values in the render of prod).
4. Self-tests: the policy check must reject a render with runAsNonRoot removed,
   and the schema check a render with an unknown field — so a check that
   silently stopped checking fails the run.

Usage: k8s_check.py KUBERNETES_VALIDATE_BINARY
"""

import copy
import ipaddress
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

KUBERNETES_VERSION = "1.32.0"
ROOT = pathlib.Path(__file__).resolve().parent.parent
OVERLAYS = ["dev", "prod"]
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
PRESTOP_MARGIN = 5  # seconds of slack beyond preStop + SESAME_SHUTDOWN_GRACE
# What the provider never calls at a registrant's URL (idp/src/clients/outbound.rs)
# unless SESAME_OUTBOUND_ALLOW names it: the NetworkPolicy's HTTPS egress must agree.
REFUSED_RANGES = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.168.0.0/16", "::/127", "fc00::/7", "fe80::/10", "64:ff9b::a00:0/104", "64:ff9b::6440:0/106",
        "64:ff9b::7f00:0/104", "64:ff9b::a9fe:0/112", "64:ff9b::ac10:0/108", "64:ff9b::c0a8:0/112",
        "64:ff9b:1::/48",
    )
]


def render(k8s_dir: pathlib.Path, overlay: str) -> str:
    result = subprocess.run(
        ["kubectl", "kustomize", str(k8s_dir / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        sys.exit(f"kubectl kustomize overlays/{overlay} failed:\n{result.stderr}")
    return result.stdout


def schema_errors(validator: str, text: str, workdir: pathlib.Path, name: str) -> str:
    """Empty when every object validates strictly; the validator's output otherwise."""
    path = workdir / f"{name}.yaml"
    path.write_text(text)
    result = subprocess.run(
        [validator, "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode == 0:
        return ""
    return (result.stdout + result.stderr).strip() or f"exit status {result.returncode}"


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)([smhd]?)", duration.strip())
    if not match:
        raise ValueError(f"not a duration: {duration!r}")
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def subtract(nets: list, others: list) -> list:
    """The parts of `nets` outside every network of `others`."""
    for other in others:
        rest = []
        for net in nets:
            if net.version != other.version or not net.overlaps(other):
                rest.append(net)
            elif not net.subnet_of(other):
                rest.extend(net.address_exclude(other))
        nets = rest
    return nets


def https_egress_problems(policy: dict, allowed: list) -> list:
    """The HTTPS egress reaches no refused range the allow-list does not open,
    and every allowed range."""
    problems = []
    blocks = []
    for rule in policy["spec"].get("egress", []):
        ports = rule.get("ports")
        if ports and not any(p.get("port") == 443 for p in ports):
            continue
        peers = rule.get("to")
        if not peers:
            problems.append("egress to port 443 must name ipBlocks (`to`), not every destination")
            continue
        for peer in peers:
            if "ipBlock" not in peer:
                problems.append("egress to port 443 may name only ipBlocks (a pod selector reaches internal addresses)")
                continue
            cidr = ipaddress.ip_network(peer["ipBlock"]["cidr"])
            excepted = [ipaddress.ip_network(e) for e in peer["ipBlock"].get("except", [])]
            blocks.append((cidr, excepted))
    for refused in REFUSED_RANGES:
        for cidr, excepted in blocks:
            closed = subtract([refused], excepted + allowed)
            if any(n.version == cidr.version and n.overlaps(cidr) for n in closed):
                problems.append(f"egress to port 443 reaches {refused}, which the provider refuses")
    for net in allowed:
        if not any(
            net.version == cidr.version and net.subnet_of(cidr) and not any(net.overlaps(e) for e in excepted)
            for cidr, excepted in blocks
        ):
            problems.append(f"SESAME_OUTBOUND_ALLOW opens {net}, but no egress ipBlock on port 443 reaches it")
    return problems


OPERATOR_PATHS = ("/metrics", "/admin")


def operator_surface_problems(by_kind: dict, overlay: str, ops_port: int) -> list:
    """Only the public listener is routed: no Service port, Ingress path or
    probe reaches the operators' port, and Prometheus scrapes that port."""
    problems = []
    container_ports = {}
    for dep in by_kind.get("Deployment", []):
        for c in dep["spec"]["template"]["spec"]["containers"]:
            for port in c.get("ports", []):
                container_ports[port.get("name")] = port["containerPort"]
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                if container_ports.get(port, port) == ops_port:
                    problems.append(f"{overlay}: {probe} must use the public port (8080), not the operators' one")
        annotations = dep["spec"]["template"].get("metadata", {}).get("annotations", {})
        if annotations.get("prometheus.io/port") != str(ops_port):
            problems.append(f"{overlay}: Prometheus must scrape the operators' port {ops_port}")
    public_service_ports = set()
    for svc in by_kind.get("Service", []):
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            if container_ports.get(target, target) == ops_port:
                problems.append(f"{overlay}: Service/{svc['metadata']['name']} exposes the operators' port")
            else:
                public_service_ports.update({port["port"], port.get("name")})
    for ingress in by_kind.get("Ingress", []):
        for rule in ingress["spec"].get("rules", []):
            for path in (rule.get("http") or {}).get("paths", []):
                at = f"{overlay}: Ingress/{ingress['metadata']['name']} path {path.get('path')}"
                if any(path.get("path", "").startswith(p) for p in OPERATOR_PATHS):
                    problems.append(f"{at}: routes an operator surface")
                port = path["backend"].get("service", {}).get("port", {})
                if port.get("name", port.get("number")) not in public_service_ports:
                    problems.append(f"{at}: must route to the public Service port only")
    for policy in by_kind.get("NetworkPolicy", []):
        for rule in policy["spec"].get("ingress", []):
            ports = [p.get("port") for p in rule.get("ports", [])]
            if not ports or ops_port in ports or "ops" in ports:
                for peer in rule.get("from", [{}]):
                    labels = (peer.get("namespaceSelector") or {}).get("matchLabels", {})
                    if labels.get("kubernetes.io/metadata.name") != "monitoring":
                        problems.append(f"{overlay}: NetworkPolicy admits more than monitoring to the operators' port")
    return problems


def policy_problems(docs: list, overlay: str) -> list:
    problems = []
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)

    def where(doc, rest=""):
        return f"{overlay}: {doc['kind']}/{doc['metadata']['name']}{rest}"

    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        pod = doc["spec"]["template"]["spec"]
        pod_sc = pod.get("securityContext", {})
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(where(doc, ": automountServiceAccountToken must be false"))
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            problems.append(where(doc, ": host namespaces are not allowed"))
        for container in pod.get("initContainers", []) + pod["containers"]:
            sc = container.get("securityContext", {})
            at = where(doc, f" container {container['name']}")

            def effective(key):
                return sc.get(key, pod_sc.get(key))

            if effective("runAsNonRoot") is not True:
                problems.append(f"{at}: runAsNonRoot must be true")
            if effective("runAsUser") == 0:
                problems.append(f"{at}: runAsUser must not be 0")
            if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
                problems.append(f"{at}: seccompProfile must be RuntimeDefault")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{at}: allowPrivilegeEscalation must be false")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{at}: readOnlyRootFilesystem must be true")
            if sc.get("privileged"):
                problems.append(f"{at}: privileged is not allowed")
            if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
                problems.append(f"{at}: capabilities must drop ALL")
            if (sc.get("capabilities") or {}).get("add"):
                problems.append(f"{at}: no capability may be added")
            resources = container.get("resources", {})
            if "memory" not in resources.get("requests", {}) or "memory" not in resources.get("limits", {}):
                problems.append(f"{at}: memory request and limit are required")
            if "cpu" not in resources.get("requests", {}):
                problems.append(f"{at}: a cpu request is required")

    for sa in by_kind.get("ServiceAccount", []):
        if sa.get("automountServiceAccountToken") is not False:
            problems.append(where(sa, ": automountServiceAccountToken must be false"))

    config = {}
    for cm in by_kind.get("ConfigMap", []):
        if cm["metadata"]["name"].startswith("sesame-config"):
            config = cm.get("data", {})
    for key in ("SESAME_MASTER_KEY", "SESAME_DATABASE_URL", "SESAME_REDIS_URL"):
        if key in config:
            problems.append(f"{overlay}: {key} belongs in the Secret, not the ConfigMap")
    if config.get("SESAME_AUTO_MIGRATE") != "false":
        problems.append(f"{overlay}: SESAME_AUTO_MIGRATE must be false (the migration Job migrates)")
    if config.get("SESAME_BIND") != "0.0.0.0:8080":
        problems.append(f"{overlay}: SESAME_BIND must be 0.0.0.0:8080")
    ops_port = int(config.get("SESAME_OPS_BIND", "127.0.0.1:9090").rsplit(":", 1)[-1])
    if ops_port == 8080:
        problems.append(f"{overlay}: SESAME_OPS_BIND must use another port than the public 8080")
    problems += operator_surface_problems(by_kind, overlay, ops_port)
    grace = seconds(config.get("SESAME_SHUTDOWN_GRACE", "25s"))

    deployments = [d for d in by_kind.get("Deployment", []) if d["metadata"]["name"] == "sesame"]
    if len(deployments) != 1:
        problems.append(f"{overlay}: expected one Deployment named sesame")
    for dep in deployments:
        spec = dep["spec"]
        pod = spec["template"]["spec"]
        idp = next((c for c in pod["containers"] if c["name"] == "idp"), None)
        if idp is None:
            problems.append(where(dep, ": no container named idp"))
            continue
        rolling = spec.get("strategy", {}).get("rollingUpdate", {})
        if rolling.get("maxUnavailable") != 0:
            problems.append(where(dep, ": rollingUpdate.maxUnavailable must be 0"))
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz")):
            got = (idp.get(probe) or {}).get("httpGet", {}).get("path")
            if got is None or (path and got != path):
                problems.append(where(dep, f": {probe} must GET {path or 'a path'}"))
        prestop = ((idp.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds", 0)
        tgps = pod.get("terminationGracePeriodSeconds", 30)
        if tgps < prestop + grace + PRESTOP_MARGIN:
            problems.append(
                where(dep, f": terminationGracePeriodSeconds {tgps} must exceed preStop {prestop} s "
                           f"+ SESAME_SHUTDOWN_GRACE {grace} s + {PRESTOP_MARGIN} s")
            )
        if not any("secretRef" in e for e in idp.get("envFrom", [])):
            problems.append(where(dep, ": secrets must come from envFrom secretRef"))
        annotations = spec["template"].get("metadata", {}).get("annotations", {})
        if annotations.get("prometheus.io/scrape") != "true" or annotations.get("prometheus.io/path") != "/metrics":
            problems.append(where(dep, ": Prometheus scrape annotations missing"))
        if not pod.get("topologySpreadConstraints"):
            problems.append(where(dep, ": topologySpreadConstraints missing"))

    jobs = by_kind.get("Job", [])
    if not any(j["spec"]["template"]["spec"]["containers"][0].get("args") == ["migrate"] for j in jobs):
        problems.append(f"{overlay}: a Job running `idp migrate` is required")
    for kind in ("Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy", "ServiceAccount"):
        if kind not in by_kind:
            problems.append(f"{overlay}: a {kind} is required")
    allowed = [ipaddress.ip_network(n.strip()) for n in config.get("SESAME_OUTBOUND_ALLOW", "").split(",") if n.strip()]
    for policy in by_kind.get("NetworkPolicy", []):
        if sorted(policy["spec"].get("policyTypes", [])) != ["Egress", "Ingress"]:
            problems.append(where(policy, ": must restrict both Ingress and Egress"))
        problems += [where(policy, f": {p}") for p in https_egress_problems(policy, allowed)]
    if overlay != "dev":
        if "Ingress" not in by_kind or not all(i["spec"].get("tls") for i in by_kind["Ingress"]):
            problems.append(f"{overlay}: an Ingress with TLS is required")
        # Outside the demo, secrets are created by the operator, never rendered from git.
        for secret in by_kind.get("Secret", []):
            problems.append(where(secret, ": no Secret may be rendered outside dev"))
    return problems


def check_dockerfile() -> list:
    text = (ROOT / "Dockerfile").read_text()
    problems = []
    if "cargo build --release -p idp --locked" not in text:
        problems.append("Dockerfile: must build with `cargo build --release -p idp --locked`")
    if "target/release/idp" not in text:
        problems.append("Dockerfile: must copy target/release/idp")
    if not re.search(r'^ENTRYPOINT \["/usr/local/bin/idp"\]', text, re.M):
        problems.append('Dockerfile: ENTRYPOINT must be ["/usr/local/bin/idp"]')
    if re.search(r"^USER (root|0)\b", text, re.M) or not re.search(r"^USER ", text, re.M):
        problems.append("Dockerfile: the runtime must run as a non-root USER")
    if re.search(r"^HEALTHCHECK", text, re.M):
        problems.append("Dockerfile: no HEALTHCHECK (Kubernetes probes do it)")
    return problems


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    validator = sys.argv[1]
    problems = check_dockerfile()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        k8s = workdir / "k8s"
        shutil.copytree(ROOT / "k8s", k8s)
        dev_env = k8s / "overlays" / "dev" / "sesame.env"
        # Render with the example's placeholders, whatever a developer has locally.
        shutil.copy(k8s / "overlays" / "dev" / "sesame.env.example", dev_env)

        for overlay in OVERLAYS:
            text = render(k8s, overlay)
            docs = [d for d in yaml.safe_load_all(text) if d]
            kinds = sorted({d["kind"] for d in docs})
            print(f"overlays/{overlay}: {len(docs)} objects ({', '.join(kinds)})")
            errors = schema_errors(validator, text, workdir, overlay)
            if errors:
                problems.append(f"{overlay}: schema validation (Kubernetes {KUBERNETES_VERSION}, strict):\n{errors}")
            problems += policy_problems(docs, overlay)

            if overlay == "prod":
                # Self-tests: each check must notice a regression.
                broken = copy.deepcopy(docs)
                for doc in broken:
                    if doc["kind"] == "Deployment":
                        doc["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot", None)
                        for c in doc["spec"]["template"]["spec"]["containers"]:
                            c.get("securityContext", {}).pop("runAsNonRoot", None)
                if not any("runAsNonRoot" in p for p in policy_problems(broken, overlay)):
                    problems.append("self-test: the policy check accepted a Deployment without runAsNonRoot")
                broken = copy.deepcopy(docs)
                for doc in broken:
                    if doc["kind"] == "NetworkPolicy":
                        for rule in doc["spec"]["egress"]:
                            for peer in rule.get("to", []):
                                excepted = peer.get("ipBlock", {}).get("except", [])
                                if "10.0.0.0/8" in excepted:
                                    excepted.remove("10.0.0.0/8")
                if not any("reaches 10.0.0.0/8" in p for p in policy_problems(broken, overlay)):
                    problems.append("self-test: the policy check accepted HTTPS egress to 10.0.0.0/8")
                broken = copy.deepcopy(docs)
                for doc in broken:
                    if doc["kind"] == "Ingress":
                        doc["spec"]["rules"][0]["http"]["paths"].append(
                            {"path": "/metrics", "pathType": "Prefix",
                             "backend": {"service": {"name": "sesame", "port": {"number": 9090}}}}
                        )
                found = policy_problems(broken, overlay)
                if not any("routes an operator surface" in p for p in found) or not any(
                    "public Service port only" in p for p in found
                ):
                    problems.append("self-test: the policy check accepted an Ingress to /metrics on the operators' port")
                # An allowed range needs its egress rule, and then passes.
                broken = copy.deepcopy(docs)
                for doc in broken:
                    if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("sesame-config"):
                        doc["data"]["SESAME_OUTBOUND_ALLOW"] = "172.16.5.0/24"
                if not any("opens 172.16.5.0/24" in p for p in policy_problems(broken, overlay)):
                    problems.append("self-test: the policy check accepted SESAME_OUTBOUND_ALLOW without egress")
                for doc in broken:
                    if doc["kind"] == "NetworkPolicy":
                        doc["spec"]["egress"].append(
                            {"to": [{"ipBlock": {"cidr": "172.16.5.0/24"}}], "ports": [{"port": 443, "protocol": "TCP"}]}
                        )
                if any("172.16" in p for p in policy_problems(broken, overlay)):
                    problems.append("self-test: the policy check refused an allowed range's egress rule")
                broken = copy.deepcopy(docs)
                for doc in broken:
                    if doc["kind"] == "Deployment":
                        doc["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
                if not schema_errors(validator, yaml.safe_dump_all(broken), workdir, "broken"):
                    problems.append("self-test: strict schema validation accepted an unknown field")

    if problems:
        print("\nKubernetes manifest problems:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        sys.exit(1)
    print(f"manifests render, validate strictly against Kubernetes {KUBERNETES_VERSION}, and pass the policy check")


if __name__ == "__main__":
    main()

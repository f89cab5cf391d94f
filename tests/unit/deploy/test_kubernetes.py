"""deploy/kubernetes, checked offline: the base and both overlays render, every built-in
object fits the Kubernetes schemas, the operators' resources have what their operators need,
and the manifests agree with the code (routers, handlers, queues, settings) and with each other
(probes, resources, security contexts, autoscaling, network policies, Secret references).

Each check is a function that lists problems; the tests assert that a render has none, and
`test_each_check_catches_a_broken_manifest` breaks a render on purpose to show that each check
can fail.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from support.kustomize import containers, pod_specs
from support.kustomize import render as python_render
from tasdir.settings import DEV_JWT_SECRET

Obj = dict[str, Any]

ROOT = Path(__file__).resolve().parents[3]
KUBERNETES = ROOT / "deploy" / "kubernetes"
TARGETS = {
    "base": KUBERNETES / "base",
    "dev": KUBERNETES / "overlays" / "dev",
    "prod": KUBERNETES / "overlays" / "prod",
}
# The oldest Kubernetes the manifests are for (the preStop `sleep` action needs 1.30), and the
# newest whose schemas kubernetes-validate carries.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
# The Python module of each service, and its name in Kubernetes objects.
SERVICES = {"exporters": "exporters", "credit_products": "credit-products", "matching": "matching"}
# Prefixes routed to a service before its routers exist (the API answers 404 there until then);
# none at present.
RESERVED_PREFIXES: dict[str, str] = {}
INGRESS_CONTROLLER_NAMESPACE = "ingress-nginx"
# What each service's pods may reach, and on which port (DNS aside).
BACKING_SERVICES = {
    ("cnpg.io/cluster", "tasdir-postgres"): 5432,
    ("app.kubernetes.io/name", "tasdir-rabbitmq"): 5672,
    ("app.kubernetes.io/name", "tasdir-redis"): 6379,
}
CUSTOM_KINDS = {
    "rabbitmq.com/v1beta1": {"RabbitmqCluster"},
    "postgresql.cnpg.io/v1": {"Cluster", "Database"},
    "keda.sh/v1alpha1": {"ScaledObject", "TriggerAuthentication"},
}


# --- rendering -------------------------------------------------------------------------------


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def binary_render(directory: Path) -> list[Obj]:
    command = kustomize_command()
    assert command is not None
    result = subprocess.run(
        [*command, str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@functools.cache
def _rendered(target: str) -> tuple[Obj, ...]:
    directory = TARGETS[target]
    objs = binary_render(directory) if kustomize_command() else python_render(directory)
    return tuple(objs)


def rendered(target: str) -> list[Obj]:
    """A fresh copy of a render (kustomize's when a binary exists), for a test to keep or break."""
    return copy.deepcopy(list(_rendered(target)))


def of_kind(objs: list[Obj], kind: str) -> list[Obj]:
    return [obj for obj in objs if obj["kind"] == kind]


def named(objs: list[Obj], kind: str, name: str) -> Obj:
    matches = [obj for obj in of_kind(objs, kind) if obj["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind} {name}: {len(matches)} found"
    return matches[0]


def name_of(obj: Obj) -> str:
    return f"{obj['kind']} {obj['metadata']['name']}"


def is_builtin(obj: Obj) -> bool:
    group = obj["apiVersion"].rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def template_labels(deployment: Obj) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"].get("labels", {})
    return labels


def component(deployment: Obj) -> tuple[str, str] | None:
    """(service module, api|relay|consumer) of a Tasdir Deployment, None for the others."""
    labels = template_labels(deployment)
    modules = {k8s: module for module, k8s in SERVICES.items()}
    module = modules.get(labels.get("app.kubernetes.io/name", ""))
    if module is None:
        return None
    return module, labels.get("app.kubernetes.io/component", "")


def deployments_of(objs: list[Obj], role: str) -> dict[str, Obj]:
    """Tasdir's Deployments of one role (api, relay, consumer), by service module."""
    found = {}
    for deployment in of_kind(objs, "Deployment"):
        which = component(deployment)
        if which is not None and which[1] == role:
            found[which[0]] = deployment
    return found


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions) selects these labels."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number (cores, bytes)."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6}
    units |= {"G": 1e9}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


# --- what the code says ----------------------------------------------------------------------


@functools.cache
def service_definitions() -> dict[str, Any]:
    return {
        module: importlib.import_module(f"{module}.bootstrap").definition for module in SERVICES
    }


def router_prefixes() -> dict[str, str]:
    """Every path prefix the services' routers serve, to the service (module) serving it."""
    prefixes: dict[str, str] = {}
    for module, definition in service_definitions().items():
        for router in definition.routers:
            assert router.prefix, f"a router of {module} has no prefix"
            prefixes[router.prefix] = module
    return prefixes


@functools.cache
def definitions() -> Obj:
    loaded: Obj = json.loads((ROOT / "deploy" / "rabbitmq" / "definitions.json").read_text())
    return loaded


def queues() -> dict[str, Obj]:
    return {queue["name"]: queue for queue in definitions()["queues"]}


def documented_settings() -> set[str]:
    """The TASDIR_* names in docs/operations.md's "Every setting" table."""
    text = (ROOT / "docs" / "operations.md").read_text()
    table = text.split("### Every setting", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `TASDIR_")]
    return {name for row in rows for name in re.findall(r"`(TASDIR_[A-Z0-9_]+)`", row)}


def external_secrets() -> dict[str, tuple[set[str], bool]]:
    """The Secrets deploy/kubernetes/README.md lists: name -> (keys, made by an operator)."""
    text = (KUBERNETES / "README.md").read_text().split("\n## Secrets\n", 1)[1].split("\n## ", 1)[0]
    secrets = {}
    for line in text.splitlines():
        match = re.match(r"^\| `([a-z0-9-]+)` \| (.+?) \| (.+?) \|$", line)
        if match:
            keys = set(re.findall(r"`([A-Za-z0-9._-]+)`", match.group(2)))
            secrets[match.group(1)] = (keys, "operator" in match.group(3))
    return secrets


# --- the checks: each returns the problems it finds --------------------------------------------


@functools.cache
def _schema_problem(document: str, version: str) -> str | None:
    """One object's schema problem, or None; cached, since the renders share most objects."""
    obj = json.loads(document)
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return f"{name_of(obj)}: {path}: {error.message}"
    except kubernetes_validate.SchemaNotFoundError as error:
        return f"{name_of(obj)}: {error.message}"
    return None


def schema_problems(objs: list[Obj], version: str = KUBERNETES_VERSIONS[0]) -> list[str]:
    problems = []
    for obj in objs:
        if not is_builtin(obj):
            if obj["kind"] not in CUSTOM_KINDS.get(obj["apiVersion"], set()):
                problems.append(f"{name_of(obj)}: unknown custom kind {obj['apiVersion']}")
            continue
        problem = _schema_problem(json.dumps(obj, sort_keys=True), version)
        if problem is not None:
            problems.append(problem)
    return problems


def _required(obj: Obj, *paths: str) -> list[str]:
    problems = []
    for path in paths:
        node: Any = obj
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node in (None, "", [], {}):
            problems.append(f"{name_of(obj)}: {path} is missing")
    return problems


def operator_resource_problems(objs: list[Obj]) -> list[str]:
    problems = []
    for obj in objs:
        if not is_builtin(obj):
            problems += _required(obj, "apiVersion", "kind", "metadata.name", "spec")

    rabbits = of_kind(objs, "RabbitmqCluster")
    if len(rabbits) != 1:
        problems.append(f"{len(rabbits)} RabbitmqCluster, expected 1")
    for rabbit in rabbits:
        spec = rabbit.get("spec", {})
        if spec.get("replicas") != 3:
            problems.append(f"{name_of(rabbit)}: spec.replicas is {spec.get('replicas')}, not 3")
        if not re.match(r"^rabbitmq:4\.", spec.get("image", "")):
            problems.append(f"{name_of(rabbit)}: spec.image is not RabbitMQ 4.x")
        config = spec.get("rabbitmq", {}).get("additionalConfig", "")
        if not re.search(r"^default_queue_type\s*=\s*quorum$", config, re.MULTILINE):
            problems.append(f"{name_of(rabbit)}: quorum is not the default queue type")

    clusters = of_kind(objs, "Cluster")
    if len(clusters) != 1:
        problems.append(f"{len(clusters)} CloudNativePG Cluster, expected 1")
    roles: set[str] = set()
    for cluster in clusters:
        problems += _required(cluster, "spec.instances", "spec.storage.size")
        instances = cluster.get("spec", {}).get("instances")
        if not isinstance(instances, int) or instances < 1:
            problems.append(f"{name_of(cluster)}: spec.instances is {instances!r}")
        size = cluster.get("spec", {}).get("storage", {}).get("size", "")
        if not re.match(r"^\d+(Mi|Gi|Ti)$", str(size)):
            problems.append(f"{name_of(cluster)}: spec.storage.size is {size!r}")
        secrets = {s["metadata"]["name"]: s for s in of_kind(objs, "Secret")}
        for role in cluster.get("spec", {}).get("managed", {}).get("roles", []):
            roles.add(role["name"])
            secret = secrets.get(role.get("passwordSecret", {}).get("name", ""))
            if not role.get("passwordSecret", {}).get("name"):
                problems.append(f"{name_of(cluster)}: role {role['name']} has no passwordSecret")
            elif secret is not None:
                username = base64.b64decode(secret.get("data", {}).get("username", "")).decode()
                if secret.get("type") != "kubernetes.io/basic-auth" or username != role["name"]:
                    problems.append(
                        f"{name_of(secret)}: not basic-auth for the role {role['name']}"
                    )
    cluster_names = {cluster["metadata"]["name"] for cluster in clusters}
    databases = {}
    for database in of_kind(objs, "Database"):
        problems += _required(database, "spec.name", "spec.owner", "spec.cluster.name")
        spec = database.get("spec", {})
        databases[spec.get("name")] = spec.get("owner")
        if spec.get("cluster", {}).get("name") not in cluster_names:
            problems.append(f"{name_of(database)}: no Cluster {spec.get('cluster')}")
        if spec.get("owner") not in roles:
            problems.append(f"{name_of(database)}: its owner is not a managed role")
    for module in SERVICES:
        if databases.get(f"tasdir_{module}") != f"tasdir_{module}":
            problems.append(f"no database tasdir_{module} owned by the role tasdir_{module}")

    deployments = {d["metadata"]["name"]: d for d in of_kind(objs, "Deployment")}
    authentications = {
        obj["metadata"]["name"]: obj for obj in of_kind(objs, "TriggerAuthentication")
    }
    for authentication in authentications.values():
        refs = authentication.get("spec", {}).get("secretTargetRef", [])
        if not refs:
            problems.append(f"{name_of(authentication)}: references no Secret")
        for ref in refs:
            if not (ref.get("parameter") and ref.get("name") and ref.get("key")):
                problems.append(f"{name_of(authentication)}: an incomplete secretTargetRef")
    for scaled in of_kind(objs, "ScaledObject"):
        problems += _required(scaled, "spec.scaleTargetRef.name", "spec.triggers")
        spec = scaled.get("spec", {})
        target = deployments.get(spec.get("scaleTargetRef", {}).get("name"))
        if target is None:
            problems.append(f"{name_of(scaled)}: its target is not a Deployment")
        for trigger in spec.get("triggers", []):
            meta = trigger.get("metadata", {})
            if trigger.get("type") != "rabbitmq":
                problems.append(f"{name_of(scaled)}: a trigger of type {trigger.get('type')}")
            if meta.get("queueName") not in queues():
                problems.append(f"{name_of(scaled)}: queue {meta.get('queueName')} is unknown")
            auth = trigger.get("authenticationRef", {}).get("name")
            if auth not in authentications:
                problems.append(f"{name_of(scaled)}: no TriggerAuthentication {auth}")
            env_name = meta.get("hostFromEnv")
            if target is not None and env_name is not None:
                pod = pod_specs(target)[0]
                wanted = spec["scaleTargetRef"].get("envSourceContainerName")
                source = next((c for c in pod["containers"] if wanted in (None, c["name"])), {})
                if env_name not in {env["name"] for env in source.get("env", [])}:
                    problems.append(f"{name_of(scaled)}: the target has no env {env_name}")
            if env_name is None and "host" not in meta:
                problems.append(f"{name_of(scaled)}: the trigger names no broker")
    return problems


def workload_problems(objs: list[Obj]) -> list[str]:
    """Every container of a Deployment or a Job has resource requests and limits and runs
    unprivileged; every Deployment's containers have readiness and liveness probes."""
    problems = []
    for workload in of_kind(objs, "Deployment") + of_kind(objs, "Job"):
        name = name_of(workload)
        pod = pod_specs(workload)[0]
        pod_context = pod.get("securityContext", {})
        for container in containers(pod):
            where = f"{name}, container {container['name']}"
            context = container.get("securityContext", {})
            non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
            user = context.get("runAsUser", pod_context.get("runAsUser"))
            if non_root is not True or user == 0:
                problems.append(f"{where}: may run as root")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allows privilege escalation")
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: writable root file system")
            if "ALL" not in context.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: keeps its capabilities")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(bound, {}):
                        problems.append(f"{where}: no {resource} in resources.{bound}")
    for deployment in of_kind(objs, "Deployment"):
        name = name_of(deployment)
        selector = deployment["spec"].get("selector", {})
        if not selector or not selects(selector, template_labels(deployment)):
            problems.append(f"{name}: its selector does not select its own pods")
        pod = pod_specs(deployment)[0]
        for container in pod.get("containers", []):
            where = f"{name}, container {container['name']}"
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in container:
                    problems.append(f"{where}: no {probe}")
                    continue
                http = container[probe].get("httpGet")
                if http is not None:
                    ports = {p.get("name") for p in container.get("ports", [])}
                    ports |= {p["containerPort"] for p in container.get("ports", [])}
                    if http["port"] not in ports:
                        problems.append(f"{where}: {probe} on an undeclared port {http['port']}")
        which = component(deployment)
        if which is not None and which[1] == "api":
            main = pod["containers"][0]
            if main.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
                problems.append(f"{name}: readiness is not /readyz")
            if main.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
                problems.append(f"{name}: liveness is not /healthz")
    return problems


def process_problems(objs: list[Obj]) -> list[str]:
    """Each Tasdir container runs its service's image with the right process, and every
    container of a service, init containers too, has the same env."""
    problems = []
    for deployment in of_kind(objs, "Deployment"):
        which = component(deployment)
        if which is None:
            continue
        module, role = which
        pod = pod_specs(deployment)[0]
        envs = []
        for container in containers(pod):
            where = f"{name_of(deployment)}, container {container['name']}"
            if not re.match(rf"^tasdir/{module}([:@]|$)", container["image"]):
                problems.append(f"{where}: image {container['image']} is not tasdir/{module}")
            envs.append(container.get("env", []))
            values = {env["name"]: env.get("value", "") for env in container.get("env", [])}
            url = values.get(f"TASDIR_{module.upper()}_DATABASE_URL", "")
            if not url.endswith(f"/tasdir_{module}"):
                problems.append(f"{where}: TASDIR_{module.upper()}_DATABASE_URL is {url!r}")
        inits = pod.get("initContainers", [])
        if [c.get("args", [None])[0] for c in inits] != ["migrate"]:
            problems.append(f"{name_of(deployment)}: no init container running migrate")
        process = pod["containers"][0].get("args", [None])[0]
        if process != role:
            problems.append(f"{name_of(deployment)}: runs {process}, not {role}")
        if any(env != envs[0] for env in envs):
            problems.append(f"{name_of(deployment)}: its containers' env differ")
    services = {}
    for module in SERVICES:
        by_service = [
            d for d in of_kind(objs, "Deployment") if (component(d) or ("",))[0] == module
        ]
        services[module] = [pod_specs(d)[0]["containers"][0].get("env") for d in by_service]
        if any(env != services[module][0] for env in services[module]):
            problems.append(f"{module}: its Deployments' env differ")
    return problems


def api_problems(objs: list[Obj]) -> list[str]:
    """Every API has a Service, a PodDisruptionBudget and a HorizontalPodAutoscaler."""
    problems = []
    apis = deployments_of(objs, "api")
    for module in SERVICES:
        if module not in apis:
            problems.append(f"{module}: no API Deployment")
    for deployment in apis.values():
        name, labels = deployment["metadata"]["name"], template_labels(deployment)
        services = [
            s
            for s in of_kind(objs, "Service")
            if selects({"matchLabels": s["spec"]["selector"]}, labels)
        ]
        if not services:
            problems.append(f"{name_of(deployment)}: no Service")
        if not any(
            selects(p["spec"]["selector"], labels) for p in of_kind(objs, "PodDisruptionBudget")
        ):
            problems.append(f"{name_of(deployment)}: no PodDisruptionBudget")
        hpas = [
            h
            for h in of_kind(objs, "HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"]
            == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        ]
        if len(hpas) != 1:
            problems.append(f"{name_of(deployment)}: {len(hpas)} HorizontalPodAutoscalers")
    return problems


def consumer_problems(objs: list[Obj]) -> list[str]:
    """A consumer Deployment for each service with handlers, and none for the others."""
    problems = []
    consumers = deployments_of(objs, "consumer")
    for module, definition in service_definitions().items():
        if definition.handlers and module not in consumers:
            problems.append(f"{module} handles events but has no consumer Deployment")
        if not definition.handlers and module in consumers:
            problems.append(f"{module} handles no event but has a consumer Deployment")
    return problems


def autoscaling_problems(objs: list[Obj]) -> list[str]:
    """KEDA scales the competing consumers, and nothing scales a single active consumer.
    Whatever an autoscaler owns sets no replica count of its own."""
    problems = []
    targets: dict[str, list[str]] = {}
    for scaled in of_kind(objs, "ScaledObject"):
        targets.setdefault(scaled["spec"]["scaleTargetRef"]["name"], []).append(name_of(scaled))
    for hpa in of_kind(objs, "HorizontalPodAutoscaler"):
        targets.setdefault(hpa["spec"]["scaleTargetRef"]["name"], []).append(name_of(hpa))
    for module, deployment in deployments_of(objs, "consumer").items():
        name = deployment["metadata"]["name"]
        single = queues()[f"{module}.events"]["arguments"].get("x-single-active-consumer")
        scalers = targets.get(name, [])
        if single and scalers:
            problems.append(f"{name}: a single active consumer is autoscaled by {scalers}")
        if not single and [s for s in scalers if s.startswith("ScaledObject")] == []:
            problems.append(f"{name}: competing consumers without a KEDA ScaledObject")
        if single and "replicas" not in deployment["spec"]:
            problems.append(f"{name}: a single active consumer needs a fixed replica count")
    for deployment in of_kind(objs, "Deployment"):
        name = deployment["metadata"]["name"]
        if len(targets.get(name, [])) > 1:
            problems.append(f"{name}: several autoscalers {targets[name]}")
        if targets.get(name) and "replicas" in deployment["spec"]:
            problems.append(f"{name}: sets replicas although {targets[name][0]} owns them")
    return problems


def ingress_problems(objs: list[Obj]) -> list[str]:
    """The Ingress routes exactly the routers' prefixes (and the reserved ones) to their APIs."""
    problems = []
    expected = router_prefixes() | RESERVED_PREFIXES
    api_services = {}
    for module, deployment in deployments_of(objs, "api").items():
        for service in of_kind(objs, "Service"):
            if selects({"matchLabels": service["spec"]["selector"]}, template_labels(deployment)):
                api_services[service["metadata"]["name"]] = (module, service)
    routed: dict[str, str] = {}
    for ingress in of_kind(objs, "Ingress"):
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                if path.get("pathType") != "Prefix":
                    problems.append(f"{path['path']}: pathType is not Prefix")
                if backend["name"] not in api_services:
                    problems.append(f"{path['path']}: to {backend['name']}, not an API Service")
                    continue
                module, service = api_services[backend["name"]]
                port = backend["port"].get("name", backend["port"].get("number"))
                ports = {p.get("name") for p in service["spec"]["ports"]}
                if port not in ports | {p["port"] for p in service["spec"]["ports"]}:
                    problems.append(f"{path['path']}: {backend['name']} has no port {port}")
                if path["path"] in routed:
                    problems.append(f"{path['path']}: routed twice")
                routed[path["path"]] = module
    for prefix, module in sorted(expected.items()):
        if prefix not in routed:
            problems.append(f"{prefix} ({module}) has no ingress rule")
        elif routed[prefix] != module:
            problems.append(f"{prefix} goes to {routed[prefix]}, not {module}")
    for prefix in sorted(set(routed) - set(expected)):
        problems.append(f"{prefix} is routed but no router serves it")
    return problems


def _policies_for(objs: list[Obj], labels: dict[str, str], direction: str) -> list[Obj]:
    return [
        policy
        for policy in of_kind(objs, "NetworkPolicy")
        if direction in policy["spec"].get("policyTypes", [])
        and selects(policy["spec"]["podSelector"], labels)
    ]


def _is_dns(peer: Obj) -> bool:
    return peer.get("namespaceSelector", {}).get("matchLabels") == {
        "kubernetes.io/metadata.name": "kube-system"
    } and peer.get("podSelector", {}).get("matchLabels") == {"k8s-app": "kube-dns"}


def network_problems(objs: list[Obj]) -> list[str]:
    """Default deny; only the ingress controller reaches the APIs' port; each service's pods
    reach PostgreSQL, RabbitMQ, Redis and DNS, and nothing else."""
    problems = []
    policies = of_kind(objs, "NetworkPolicy")
    if not any(
        p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    ):
        problems.append("no default-deny NetworkPolicy")
    for deployment in of_kind(objs, "Deployment"):
        which = component(deployment)
        if which is None:
            continue
        labels, name = template_labels(deployment), name_of(deployment)
        main = pod_specs(deployment)[0]["containers"][0]
        http_ports = {p["containerPort"] for p in main.get("ports", []) if p["name"] == "http"}
        for policy in _policies_for(objs, labels, "Ingress"):
            for rule in policy["spec"].get("ingress", []):
                ports = {p.get("port") for p in rule.get("ports", [])} or {"any"}
                if not (ports & (http_ports | {"any", "http"})):
                    continue
                peers = rule.get("from", [])
                controller = {"kubernetes.io/metadata.name": INGRESS_CONTROLLER_NAMESPACE}
                if not peers or any(
                    set(peer) != {"namespaceSelector"}
                    or peer["namespaceSelector"].get("matchLabels") != controller
                    for peer in peers
                ):
                    problems.append(f"{name}: {name_of(policy)} lets others reach its API port")
        if which[1] == "api" and not any(
            rule.get("from")
            for p in _policies_for(objs, labels, "Ingress")
            for rule in p["spec"].get("ingress", [])
        ):
            problems.append(f"{name}: nothing may reach its API")
        reached = set()
        for policy in _policies_for(objs, labels, "Egress"):
            for rule in policy["spec"].get("egress", []):
                peers = rule.get("to", [])
                ports = {p.get("port") for p in rule.get("ports", [])}
                if not peers:
                    problems.append(f"{name}: {name_of(policy)} allows egress anywhere")
                for peer in peers:
                    if _is_dns(peer):
                        continue
                    matched = [
                        (key, value, port)
                        for (key, value), port in BACKING_SERVICES.items()
                        if set(peer) == {"podSelector"}
                        and peer["podSelector"].get("matchLabels") == {key: value}
                    ]
                    if not matched or ports != {matched[0][2]}:
                        problems.append(f"{name}: {name_of(policy)} allows egress to {peer}")
                    reached |= {(key, value) for key, value, _port in matched}
        missing = set(BACKING_SERVICES) - reached
        if missing:
            problems.append(f"{name}: cannot reach {sorted(missing)}")
    return problems


def secret_refs(objs: list[Obj]) -> Iterator[tuple[str, str, str | None, bool]]:
    """(where, Secret name, key or None, optional) of every reference to a Secret."""
    for obj in objs:
        for pod in pod_specs(obj):
            for container in containers(pod):
                where = f"{name_of(obj)}, container {container['name']}"
                for env in container.get("env", []):
                    ref = env.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        yield where, ref["name"], ref["key"], bool(ref.get("optional"))
                for env_from in container.get("envFrom", []):
                    if "secretRef" in env_from:
                        ref = env_from["secretRef"]
                        yield where, ref["name"], None, bool(ref.get("optional"))
            for volume in pod.get("volumes", []):
                if "secret" in volume:
                    yield name_of(obj), volume["secret"]["secretName"], None, False
        if obj["kind"] == "TriggerAuthentication":
            for ref in obj["spec"].get("secretTargetRef", []):
                yield name_of(obj), ref["name"], ref["key"], False
        if obj["kind"] == "Cluster":
            for role in obj["spec"].get("managed", {}).get("roles", []):
                secret = role.get("passwordSecret", {}).get("name")
                if secret:
                    for key in ("username", "password"):
                        yield name_of(obj), secret, key, False
        if obj["kind"] == "Ingress":
            for tls in obj["spec"].get("tls", []):
                for key in ("tls.crt", "tls.key"):
                    yield name_of(obj), tls["secretName"], key, False


def reference_problems(objs: list[Obj], target: str) -> list[str]:
    """Every Secret and ConfigMap referenced exists in the render or, for Secrets, is listed in
    deploy/kubernetes/README.md: as an operator's (anywhere), or as one you create (outside
    dev, which generates its own)."""
    problems = []
    secrets = {s["metadata"]["name"]: s for s in of_kind(objs, "Secret")}
    documented = external_secrets()
    for where, name, key, _optional in secret_refs(objs):
        if name in secrets:
            data = secrets[name].get("data", {}) | secrets[name].get("stringData", {})
            if key is not None and key not in data:
                problems.append(f"{where}: Secret {name} has no key {key}")
            continue
        keys, by_operator = documented.get(name, (set(), False))
        if name not in documented:
            problems.append(f"{where}: Secret {name} is neither generated nor documented")
        elif target == "dev" and not by_operator:
            problems.append(f"{where}: Secret {name} is not generated by the dev overlay")
        elif key is not None and key not in keys:
            problems.append(f"{where}: Secret {name}'s key {key} is not documented")
    config_maps = {c["metadata"]["name"]: c for c in of_kind(objs, "ConfigMap")}
    for obj in objs:
        for pod in pod_specs(obj):
            for container in containers(pod):
                for env_from in container.get("envFrom", []):
                    ref = env_from.get("configMapRef")
                    if ref and ref["name"] not in config_maps:
                        problems.append(f"{name_of(obj)}: no ConfigMap {ref['name']}")
                for env in container.get("env", []):
                    ref = env.get("valueFrom", {}).get("configMapKeyRef")
                    if ref and ref["key"] not in config_maps.get(ref["name"], {}).get("data", {}):
                        problems.append(f"{name_of(obj)}: no ConfigMap key {ref}")
            for volume in pod.get("volumes", []):
                if "configMap" in volume and volume["configMap"]["name"] not in config_maps:
                    problems.append(f"{name_of(obj)}: no ConfigMap {volume['configMap']['name']}")
    return problems


def written_secret_problems(objs: list[Obj]) -> list[str]:
    """No Secret carries data (for the base and prod)."""
    return [
        f"{name_of(secret)} carries data"
        for secret in of_kind(objs, "Secret")
        if secret.get("data") or secret.get("stringData")
    ]


def settings_problems(objs: list[Obj]) -> list[str]:
    """Every TASDIR_* variable set in a ConfigMap or a container is a documented setting."""
    problems = []
    documented = documented_settings()
    names: set[str] = set()
    for config_map in of_kind(objs, "ConfigMap"):
        names |= set(config_map.get("data", {}))
    for obj in objs:
        for pod in pod_specs(obj):
            for container in containers(pod):
                names |= {env["name"] for env in container.get("env", [])}
    for name in sorted(names):
        if name.startswith("TASDIR_") and name not in documented:
            problems.append(f"{name} is not a setting of docs/operations.md")
    return problems


def settings(objs: list[Obj]) -> dict[str, str]:
    config_maps = [
        c for c in of_kind(objs, "ConfigMap") if c["metadata"]["name"].startswith("tasdir-settings")
    ]
    assert len(config_maps) == 1
    data: dict[str, str] = config_maps[0]["data"]
    return data


def overlay_problems(objs: list[Obj], target: str) -> list[str]:
    problems = []
    environment = settings(objs).get("TASDIR_ENVIRONMENT")
    wanted = {"base": "production", "dev": "development", "prod": "production"}[target]
    if environment != wanted:
        problems.append(f"TASDIR_ENVIRONMENT is {environment}, not {wanted}")
    hpas = of_kind(objs, "HorizontalPodAutoscaler")
    scaled = of_kind(objs, "ScaledObject")
    if target == "dev":
        for deployment in of_kind(objs, "Deployment"):
            replicas = deployment["spec"].get("replicas")
            if replicas not in (None, 1):
                problems.append(f"{name_of(deployment)}: {replicas} replicas")
        for hpa in hpas:
            if hpa["spec"].get("minReplicas") != 1:
                problems.append(f"{name_of(hpa)}: minReplicas is not 1")
        for obj in scaled:
            if obj["spec"].get("minReplicaCount") != 1:
                problems.append(f"{name_of(obj)}: minReplicaCount is not 1")
        for secret in of_kind(objs, "Secret"):
            for key, value in secret.get("data", {}).items():
                text = base64.b64decode(value).decode()
                if key != "username" and "dev" not in text:
                    problems.append(f"{name_of(secret)}: {key} does not look like a dev value")
    if target == "prod":
        for hpa in hpas:
            if hpa["spec"].get("minReplicas", 1) < 2:
                problems.append(f"{name_of(hpa)}: fewer than 2 replicas")
        for pdb in of_kind(objs, "PodDisruptionBudget"):
            if "minAvailable" not in pdb["spec"]:
                problems.append(f"{name_of(pdb)}: no minAvailable")
        for deployment in of_kind(objs, "Deployment"):
            for container in containers(pod_specs(deployment)[0]):
                image = container["image"]
                tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
                if image.startswith("tasdir/") and tag in ("", "latest", "dev"):
                    problems.append(f"{name_of(deployment)}: image {image} is not pinned")
    return problems


# --- the tests -------------------------------------------------------------------------------

ALL = pytest.mark.parametrize("target", sorted(TARGETS))


@ALL
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_builtin_object_fits_the_kubernetes_schema(target: str, version: str) -> None:
    assert schema_problems(rendered(target), version) == []


@ALL
def test_the_operators_resources_have_what_their_operators_need(target: str) -> None:
    assert operator_resource_problems(rendered(target)) == []


@ALL
def test_every_deployment_has_probes_resources_and_runs_unprivileged(target: str) -> None:
    assert workload_problems(rendered(target)) == []


@ALL
def test_each_process_runs_its_services_image_after_migrating_with_one_env(target: str) -> None:
    assert process_problems(rendered(target)) == []


@ALL
def test_every_api_has_a_service_a_disruption_budget_and_an_autoscaler(target: str) -> None:
    assert api_problems(rendered(target)) == []


@ALL
def test_a_consumer_runs_for_each_service_that_handles_events(target: str) -> None:
    assert consumer_problems(rendered(target)) == []


@ALL
def test_keda_scales_competing_consumers_and_never_a_single_active_consumer(target: str) -> None:
    objs = rendered(target)
    assert autoscaling_problems(objs) == []
    # Said outright, whatever the queue's arguments become: matching's consumer is never
    # autoscaled.
    scaled = of_kind(objs, "ScaledObject") + of_kind(objs, "HorizontalPodAutoscaler")
    assert "matching-consumer" not in {obj["spec"]["scaleTargetRef"]["name"] for obj in scaled}


@ALL
def test_the_ingress_routes_exactly_the_routers_prefixes_to_their_apis(target: str) -> None:
    assert ingress_problems(rendered(target)) == []


def test_the_expected_prefixes_come_from_the_routers() -> None:
    prefixes = router_prefixes()
    assert prefixes["/v1/exporters"] == "exporters"
    assert prefixes["/v1/reference"] == "credit_products"
    assert prefixes["/v1/match-sets"] == "matching"
    # A reserved prefix that a router now serves must leave RESERVED_PREFIXES.
    assert not set(RESERVED_PREFIXES) & set(prefixes)


@ALL
def test_network_policies_deny_by_default_and_let_through_only_what_is_needed(target: str) -> None:
    assert network_problems(rendered(target)) == []


@ALL
def test_every_secret_and_config_map_reference_resolves_or_is_documented(target: str) -> None:
    assert reference_problems(rendered(target), target) == []


@pytest.mark.parametrize("target", ["base", "prod"])
def test_no_secret_is_written_in_the_base_or_prod(target: str) -> None:
    assert written_secret_problems(rendered(target)) == []


@ALL
def test_every_setting_set_is_a_documented_setting(target: str) -> None:
    assert settings_problems(rendered(target)) == []


@ALL
def test_each_overlay_sets_its_environment_replicas_and_secrets(target: str) -> None:
    assert overlay_problems(rendered(target), target) == []


def test_the_broker_loads_the_definitions_of_deploy_rabbitmq() -> None:
    """kustomize reads no file outside deploy/kubernetes, so the base holds a copy of
    deploy/rabbitmq/definitions.json; after regenerating that file, copy it:
    `cp deploy/rabbitmq/definitions.json deploy/kubernetes/base/rabbitmq-definitions.json`."""
    copy_ = KUBERNETES / "base" / "rabbitmq-definitions.json"
    assert json.loads(copy_.read_text()) == definitions(), "copy the definitions (docstring)"
    objs = rendered("prod")
    job = named(objs, "Job", "tasdir-rabbitmq-definitions")
    volume = pod_specs(job)[0]["volumes"][0]["configMap"]["name"]
    config_map = named(objs, "ConfigMap", volume)
    assert json.loads(config_map["data"]["definitions.json"]) == definitions()
    args = pod_specs(job)[0]["containers"][0]["args"]
    assert "@/definitions/definitions.json" in args
    assert args[-1].endswith("/api/definitions") and "--fail" in args


def test_the_dev_jwt_secret_is_the_committed_dev_secret() -> None:
    """So that `tasdir token` signs tokens the dev cluster accepts (the services refuse this
    secret outside development)."""
    jwt = [
        s
        for s in of_kind(rendered("dev"), "Secret")
        if s["metadata"]["name"].startswith("tasdir-jwt")
    ]
    assert len(jwt) == 1
    assert base64.b64decode(jwt[0]["data"]["secret"]).decode() == DEV_JWT_SECRET


def test_prod_asks_for_more_than_dev() -> None:
    dev = {d["metadata"]["name"]: d for d in of_kind(rendered("dev"), "Deployment")}
    prod = {d["metadata"]["name"]: d for d in of_kind(rendered("prod"), "Deployment")}
    assert set(dev) == set(prod)
    for name in dev:
        small = pod_specs(dev[name])[0]["containers"][0]["resources"]["requests"]
        large = pod_specs(prod[name])[0]["containers"][0]["resources"]["requests"]
        for resource in ("cpu", "memory"):
            assert quantity(large[resource]) >= quantity(small[resource]), (name, resource)
        assert any(quantity(large[r]) > quantity(small[r]) for r in ("cpu", "memory")), name


def test_the_python_renderer_agrees_with_kustomize() -> None:
    if kustomize_command() is None:
        pytest.skip("neither kustomize nor kubectl is installed; the Python renderer is used")

    def key(obj: Obj) -> tuple[str, str, str]:
        meta = obj["metadata"]
        return obj["kind"], meta.get("namespace", ""), meta["name"]

    for directory in TARGETS.values():
        ours = {key(obj): obj for obj in python_render(directory)}
        theirs = {key(obj): obj for obj in binary_render(directory)}
        assert sorted(ours) == sorted(theirs), directory
        for name, obj in theirs.items():
            assert ours[name] == obj, (directory, name)


# --- each check can fail ----------------------------------------------------------------------


def _deployment(objs: list[Obj], name: str) -> Obj:
    return named(objs, "Deployment", name)


def _main(objs: list[Obj], name: str) -> Obj:
    container: Obj = pod_specs(_deployment(objs, name))[0]["containers"][0]
    return container


def _drop_probe(objs: list[Obj]) -> None:
    del _main(objs, "exporters-api")["readinessProbe"]


def _job_as_root(objs: list[Obj]) -> None:
    pod_specs(named(objs, "Job", "tasdir-rabbitmq-definitions"))[0]["securityContext"] = {}


def _drop_limits(objs: list[Obj]) -> None:
    del pod_specs(_deployment(objs, "matching-relay"))[0]["initContainers"][0]["resources"][
        "limits"
    ]


def _run_as_root(objs: list[Obj]) -> None:
    pod_specs(_deployment(objs, "credit-products-api"))[0]["securityContext"]["runAsNonRoot"] = (
        False
    )


def _bad_replicas(objs: list[Obj]) -> None:
    _deployment(objs, "exporters-relay")["spec"]["replicas"] = "two"


def _one_rabbit(objs: list[Obj]) -> None:
    of_kind(objs, "RabbitmqCluster")[0]["spec"]["replicas"] = 1


def _unknown_queue(objs: list[Obj]) -> None:
    of_kind(objs, "ScaledObject")[0]["spec"]["triggers"][0]["metadata"]["queueName"] = "nope"


def _no_storage(objs: list[Obj]) -> None:
    del of_kind(objs, "Cluster")[0]["spec"]["storage"]


def _wrong_role_user(objs: list[Obj]) -> None:
    secret = named(objs, "Secret", "tasdir-matching-db")
    secret["data"]["username"] = base64.b64encode(b"postgres").decode()


def _drop_pdb(objs: list[Obj]) -> None:
    objs.remove(named(objs, "PodDisruptionBudget", "matching-api"))


def _autoscale_matching_consumer(objs: list[Obj]) -> None:
    scaled = copy.deepcopy(of_kind(objs, "ScaledObject")[0])
    scaled["metadata"]["name"] = scaled["spec"]["scaleTargetRef"]["name"] = "matching-consumer"
    objs.append(scaled)


def _drop_consumer(objs: list[Obj]) -> None:
    objs.remove(_deployment(objs, "exporters-consumer"))


def _drop_route(objs: list[Obj]) -> None:
    paths = of_kind(objs, "Ingress")[0]["spec"]["rules"][0]["http"]["paths"]
    paths[:] = [path for path in paths if path["path"] != "/v1/products"]


def _open_the_api(objs: list[Obj]) -> None:
    policy = named(objs, "NetworkPolicy", "exporters-api-ingress")
    policy["spec"]["ingress"][0]["from"].append({"podSelector": {}})


def _egress_anywhere(objs: list[Obj]) -> None:
    named(objs, "NetworkPolicy", "matching-egress")["spec"]["egress"].append({})


def _unknown_secret(objs: list[Obj]) -> None:
    env = _main(objs, "matching-api")["env"]
    env.append({"name": "X", "valueFrom": {"secretKeyRef": {"name": "nowhere", "key": "x"}}})


def _write_a_secret(objs: list[Obj]) -> None:
    objs.append(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dg=="}}
    )


def _typo_setting(objs: list[Obj]) -> None:
    settings(objs)["TASDIR_RATE_LIMT_PER_MINUTE"] = "10"


def _wrong_process(objs: list[Obj]) -> None:
    _main(objs, "matching-consumer")["args"][0] = "relay"


def _production_in_dev(objs: list[Obj]) -> None:
    settings(objs)["TASDIR_ENVIRONMENT"] = "production"


BREAKAGES: list[tuple[str, Callable[[list[Obj]], None], Callable[[list[Obj]], list[str]]]] = [
    ("base", _bad_replicas, schema_problems),
    ("base", _one_rabbit, operator_resource_problems),
    ("base", _unknown_queue, operator_resource_problems),
    ("base", _no_storage, operator_resource_problems),
    ("dev", _wrong_role_user, operator_resource_problems),
    ("base", _drop_probe, workload_problems),
    ("base", _drop_limits, workload_problems),
    ("base", _run_as_root, workload_problems),
    ("base", _job_as_root, workload_problems),
    ("base", _wrong_process, process_problems),
    ("base", _drop_pdb, api_problems),
    ("base", _drop_consumer, consumer_problems),
    ("base", _autoscale_matching_consumer, autoscaling_problems),
    ("base", _drop_route, ingress_problems),
    ("base", _open_the_api, network_problems),
    ("base", _egress_anywhere, network_problems),
    ("prod", _unknown_secret, lambda objs: reference_problems(objs, "prod")),
    ("prod", _write_a_secret, written_secret_problems),
    ("base", _typo_setting, settings_problems),
    ("dev", _production_in_dev, lambda objs: overlay_problems(objs, "dev")),
]


@pytest.mark.parametrize(
    ("target", "breakage", "check"), BREAKAGES, ids=[b[1].__name__.strip("_") for b in BREAKAGES]
)
def test_each_check_catches_a_broken_manifest(
    target: str,
    breakage: Callable[[list[Obj]], None],
    check: Callable[[list[Obj]], list[str]],
) -> None:
    objs = rendered(target)
    assert check(objs) == []
    breakage(objs)
    assert check(objs) != []

"""A small renderer of the kustomize subset that deploy/kubernetes uses, for machines without a
`kustomize` or `kubectl` binary. Where one exists, tests/unit/deploy/test_kubernetes.py renders
with it and also checks that this renderer gives the same objects.

The subset, and nothing more (any other field of a kustomization stops with an error, so the
manifests cannot drift out of it unnoticed):

- `resources`: YAML files (one or more documents each) and directories holding a
  kustomization, built first.
- `namespace`: set on every namespaced object; a `Namespace` object takes the name.
- `labels`: `pairs` added to every object's `metadata.labels` (not to selectors or templates).
- `configMapGenerator` / `secretGenerator`: `literals`, and `files` (`key=path` or `path`,
  inside the kustomization's folder); `type` for Secrets; `behavior`
  `create`, `merge` or `replace` (over an object of a lower level); `options` with
  `disableNameSuffixHash`, `labels` and `annotations`.
- `images`: `newName`, `newTag` and `digest` of the pod templates' (init) containers.
- `patches`: `path` only, to a file of strategic-merge patches, each applied to the object of
  the same kind and name. Maps merge and `null` deletes a key. In the pod templates of
  built-in workloads, `containers`, `initContainers`, `env`, `volumes` and `volumeMounts` merge
  their items by name (mount path). Every other list is replaced: so does kustomize for
  custom resources, which it has no schema for; for built-in kinds it merges a few more lists
  by key (ports, for one), which the manifests never patch.

Generated objects get kustomize's name suffix (a hash of their data) at the end, and the names
are rewritten where pod templates refer to them (`env[].valueFrom`, `envFrom`, `volumes`) and
in an Ingress's `tls[].secretName`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

KUSTOMIZATION_FIELDS = {
    "apiVersion",
    "kind",
    "namespace",
    "labels",
    "resources",
    "configMapGenerator",
    "secretGenerator",
    "images",
    "patches",
}
GENERATOR_FIELDS = {"name", "literals", "files", "type", "behavior", "options"}
GENERATOR_OPTIONS = {"disableNameSuffixHash", "labels", "annotations"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet"}
# Strategic-merge keys of the lists the subset merges by item (only under built-in workloads).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}


class KustomizeError(ValueError):
    """The kustomization uses something outside the subset, or refers to a missing object."""


@dataclass
class _Resource:
    obj: Obj
    hashed: bool = False  # generated, with a name suffix still to add
    original_name: str = ""


@dataclass
class _Build:
    resources: list[_Resource] = field(default_factory=list)

    def find(self, kind: str, name: str) -> _Resource | None:
        for resource in self.resources:
            meta = resource.obj.get("metadata", {})
            if resource.obj.get("kind") == kind and meta.get("name") == name:
                return resource
        return None


def render(directory: Path) -> list[Obj]:
    """Build the kustomization in `directory`, as `kustomize build` would (within the subset)."""
    build = _build(Path(directory))
    _add_name_suffixes(build)
    return [resource.obj for resource in build.resources]


def _load_documents(path: Path) -> list[Obj]:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    for document in documents:
        if not isinstance(document, dict):
            raise KustomizeError(f"{path}: a document is not a mapping")
    return documents


def _build(directory: Path) -> _Build:
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    kustomization = yaml.safe_load(path.read_text()) or {}
    unknown = set(kustomization) - KUSTOMIZATION_FIELDS
    if unknown:
        raise KustomizeError(f"{path}: outside the supported subset: {sorted(unknown)}")

    build = _Build()
    for entry in kustomization.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            build.resources.extend(_build(target).resources)
        else:
            build.resources.extend(_Resource(obj) for obj in _load_documents(target))

    own: list[_Resource] = []
    for spec in kustomization.get("configMapGenerator", []):
        own.extend(_generate(build, "ConfigMap", spec, path))
    for spec in kustomization.get("secretGenerator", []):
        own.extend(_generate(build, "Secret", spec, path))
    build.resources.extend(own)

    for patch_entry in kustomization.get("patches", []):
        if set(patch_entry) != {"path"}:
            raise KustomizeError(f"{path}: only `patches: - path: ...` is supported")
        for patch in _load_documents(directory / patch_entry["path"]):
            _apply_patch(build, patch, path)

    if "namespace" in kustomization:
        _set_namespace(build, kustomization["namespace"])
    for label_spec in kustomization.get("labels", []):
        if label_spec.get("includeSelectors") or label_spec.get("includeTemplates"):
            raise KustomizeError(f"{path}: labels on selectors or templates are not supported")
        for resource in build.resources:
            labels = resource.obj.setdefault("metadata", {}).setdefault("labels", {})
            labels.update(label_spec.get("pairs", {}))
    for image in kustomization.get("images", []):
        _set_image(build, image)
    return build


def _generate(build: _Build, kind: str, spec: Obj, path: Path) -> list[_Resource]:
    unknown = set(spec) - GENERATOR_FIELDS
    if unknown:
        raise KustomizeError(f"{path}: generator fields outside the subset: {sorted(unknown)}")
    options = spec.get("options", {})
    if set(options) - GENERATOR_OPTIONS:
        raise KustomizeError(f"{path}: generator options outside the subset: {sorted(options)}")
    data: dict[str, str] = {}
    for literal in spec.get("literals", []):
        key, sep, value = str(literal).partition("=")
        if not sep:
            raise KustomizeError(f"{path}: literal {literal!r} has no '='")
        data[key] = value
    for entry in spec.get("files", []):
        key, sep, relative = str(entry).partition("=")
        if not sep:
            key, relative = Path(key).name, key
        source = (path.parent / relative).resolve()
        if not source.is_relative_to(path.parent.resolve()):
            raise KustomizeError(f"{path}: {relative} is outside the kustomization's folder")
        data[key] = source.read_text()
    if kind == "Secret":
        data = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}

    behavior = spec.get("behavior", "create")
    existing = build.find(kind, spec["name"])
    if behavior in ("merge", "replace"):
        if existing is None:
            raise KustomizeError(f"{path}: no {kind} {spec['name']} to {behavior}")
        if behavior == "merge":
            existing.obj.setdefault("data", {}).update(data)
        else:
            existing.obj["data"] = data
        _apply_options(existing, options)
        return []
    if behavior != "create":
        raise KustomizeError(f"{path}: unknown behavior {behavior!r}")
    if existing is not None:
        raise KustomizeError(f"{path}: {kind} {spec['name']} already exists")
    obj: Obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": spec["name"]}}
    obj["data"] = data
    if kind == "Secret":
        obj["type"] = spec.get("type", "Opaque")
    resource = _Resource(obj, hashed=True, original_name=spec["name"])
    _apply_options(resource, options)
    return [resource]


def _apply_options(resource: _Resource, options: Obj) -> None:
    if options.get("disableNameSuffixHash"):
        resource.hashed = False
    meta = resource.obj.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        if options.get(key):
            meta.setdefault(key, {}).update(options[key])


def _apply_patch(build: _Build, patch: Obj, path: Path) -> None:
    kind = patch.get("kind", "")
    name = patch.get("metadata", {}).get("name", "")
    target = build.find(kind, name)
    if target is None:
        raise KustomizeError(f"{path}: the patch's target {kind} {name} does not exist")
    workload = kind in WORKLOADS
    target.obj = _merge(target.obj, patch, workload)


def _merge(base: Any, patch: Any, workload: bool, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        if "$patch" in patch:
            raise KustomizeError("strategic-merge directives ($patch) are not supported")
        merged = dict(base)
        for name, value in patch.items():
            if value is None:
                merged.pop(name, None)
            elif name in merged:
                merged[name] = _merge(merged[name], value, workload, name)
            else:
                merged[name] = copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and workload and key in MERGE_KEYS:
        merge_key = MERGE_KEYS[key]
        merged_list = [copy.deepcopy(item) for item in base]
        for item in patch:
            index = next(
                (i for i, old in enumerate(merged_list) if old.get(merge_key) == item[merge_key]),
                None,
            )
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = _merge(merged_list[index], item, workload)
        return merged_list
    return copy.deepcopy(patch)


def _set_namespace(build: _Build, namespace: str) -> None:
    for resource in build.resources:
        meta = resource.obj.setdefault("metadata", {})
        if resource.obj.get("kind") == "Namespace":
            meta["name"] = namespace
        elif resource.obj.get("kind") not in CLUSTER_SCOPED:
            meta["namespace"] = namespace


def pod_specs(obj: Obj) -> list[Obj]:
    """The pod specs of a workload (none for other kinds)."""
    kind = obj.get("kind")
    spec = obj.get("spec", {})
    if kind == "Pod":
        return [spec]
    if kind == "CronJob":
        return [spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {})]
    if kind in WORKLOADS:
        return [spec.get("template", {}).get("spec", {})]
    return []


def containers(pod_spec: Obj) -> list[Obj]:
    """Init containers first, then containers."""
    return [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    name, _, digest = image.partition("@")
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest or None


def _set_image(build: _Build, image: Obj) -> None:
    for resource in build.resources:
        for pod_spec in pod_specs(resource.obj):
            for container in containers(pod_spec):
                name, tag, digest = _split_image(container.get("image", ""))
                if name != image["name"]:
                    continue
                name = image.get("newName", name)
                if "digest" in image:
                    container["image"] = f"{name}@{image['digest']}"
                    continue
                tag = image.get("newTag", tag)
                suffix = f":{tag}" if tag else ""
                container["image"] = f"{name}{suffix}" + (f"@{digest}" if digest else "")


def name_hash(obj: Obj) -> str:
    """kustomize's name suffix of a generated ConfigMap or Secret. kustomize's hasher looks the
    name up as the single field "metadata/name", finds none, and so hashes an empty name: done
    the same way here (checked against kustomize 5.5)."""
    encoded: Obj = {"kind": obj["kind"], "name": "", "data": obj.get("data", {})}
    if obj["kind"] == "Secret":
        encoded["type"] = obj.get("type", "")
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # Go's encoding/json escapes these three for HTML safety.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}))


def _add_name_suffixes(build: _Build) -> None:
    renamed: dict[tuple[str, str], str] = {}
    for resource in build.resources:
        if resource.hashed:
            new_name = f"{resource.original_name}-{name_hash(resource.obj)}"
            resource.obj["metadata"]["name"] = new_name
            renamed[(resource.obj["kind"], resource.original_name)] = new_name
    if not renamed:
        return

    def rename(kind: str, holder: Obj, key: str) -> None:
        new_name = renamed.get((kind, holder.get(key, "")))
        if new_name is not None:
            holder[key] = new_name

    for resource in build.resources:
        for pod_spec in pod_specs(resource.obj):
            for container in containers(pod_spec):
                for env in container.get("env", []):
                    source = env.get("valueFrom", {})
                    if "configMapKeyRef" in source:
                        rename("ConfigMap", source["configMapKeyRef"], "name")
                    if "secretKeyRef" in source:
                        rename("Secret", source["secretKeyRef"], "name")
                for env_from in container.get("envFrom", []):
                    if "configMapRef" in env_from:
                        rename("ConfigMap", env_from["configMapRef"], "name")
                    if "secretRef" in env_from:
                        rename("Secret", env_from["secretRef"], "name")
            for volume in pod_spec.get("volumes", []):
                if "configMap" in volume:
                    rename("ConfigMap", volume["configMap"], "name")
                if "secret" in volume:
                    rename("Secret", volume["secret"], "secretName")
        if resource.obj.get("kind") == "Ingress":
            for tls in resource.obj.get("spec", {}).get("tls", []):
                rename("Secret", tls, "secretName")


__all__ = ["KustomizeError", "containers", "name_hash", "pod_specs", "render"]

#!/usr/bin/env python3
"""Writes the CustomResourceDefinitions (crds/ and the chart's copy) from one
description, so the container config schema shared by Environments and
Project templates is written once and every field carries a description
(`kubectl explain environment.spec.config`).

Every string, list and map is bounded (src/api/v1alpha1/bounds.h, read here; generation
fails on one without a bound) and CEL rules refuse at admission what the operator must
never act on (docs/contract.md, "Bounds"); only CEL of Kubernetes 1.35 and older.

Usage: scripts/gen-crds.py [--check]   (--check: exit 1 if the files differ)
Contract: docs/contract.md ("Project", "Environment", "Status", "Bounds").
"""
import copy
import os
import re
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUP = "catalyst.catalyst.dev"


def read_bounds():
    """The bounds of src/api/v1alpha1/bounds.h (`inline constexpr size_t kName = N;`): the
    parser refuses what is over them too, so both read one table."""
    path = os.path.join(REPO, "src/api/v1alpha1/bounds.h")
    found = dict(re.findall(r"inline constexpr size_t k(\w+) = (\d+);", open(path).read()))
    return type("Bounds", (), {k: int(v) for k, v in found.items()})


def read_readable_secrets():
    """src/api/v1alpha1/config.h's kReadableSecrets: the Secrets of an environment namespace a
    tenant's env may read (the generated database credentials, the team's secrets)."""
    text = open(os.path.join(REPO, "src/api/v1alpha1/config.h")).read()
    m = re.search(r"kReadableSecrets\[\] = \{([^}]*)\}", text)
    return re.findall(r'"([^"]+)"', m.group(1))


B = read_bounds()
READABLE_SECRETS = read_readable_secrets()


def rule(expr, message, field=None, reason=None):
    """A CEL x-kubernetes-validations rule (Kubernetes 1.35 and later have every feature used)."""
    r = {"rule": expr, "message": message}
    if field:
        r["fieldPath"] = field
    if reason:
        r["reason"] = reason
    return r


def s(desc, **kw):
    o = {"type": "string", "description": desc, **kw}
    if "enum" in kw and "maxLength" not in kw:
        o["maxLength"] = max(len(e) for e in kw["enum"])
    return o


def i(desc, **kw):
    return {"type": "integer", "description": desc, **kw}


def arr(desc, items, **kw):
    return {"type": "array", "description": desc, "items": items, **kw}


def obj(desc, props, required=None, **kw):
    o = {"type": "object", "description": desc, "properties": props}
    if required:
        o["required"] = required
    o.update(kw)
    return o


def strs(desc, max_items, max_len):
    return arr(desc, {"type": "string", "maxLength": max_len}, maxItems=max_items)


QUANTITY = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$",
    "maxLength": B.Quantity,
    "x-kubernetes-int-or-string": True,
}


def quantity(desc):
    return {**copy.deepcopy(QUANTITY), "description": desc}


def resource_list(desc):
    return {"type": "object", "description": desc,
            "additionalProperties": copy.deepcopy(QUANTITY), "maxProperties": B.ResourceProperties,
            "x-kubernetes-validations": [rule(
                f"self.all(k, size(k) <= {B.Name})",
                f"resource names are at most {B.Name} characters")]}


def resources(desc):
    return obj(desc + " Missing values are completed so the namespace quota admits the pod "
               "(cpu and memory requests, a memory limit, and a cpu limit when the Project's "
               "defaultQuota sets cpu).", {
                   "requests": resource_list("Minimum resources, e.g. {cpu: 200m, memory: 512Mi}."),
                   "limits": resource_list("Maximum resources, e.g. {cpu: \"1\", memory: 2Gi}."),
               })


INT_OR_STRING = {"anyOf": [{"type": "integer"}, {"type": "string"}],
                 "x-kubernetes-int-or-string": True}

# A probe's host is refused, not pruned: the kubelet would connect to it from the node's
# network, outside every NetworkPolicy of the environment (the cloud metadata address, the
# node's own ports). The field stays in the schema only so that the rule one level up can see
# it and the web app gets its error on the POST instead of a silently dropped field.
NO_HOST = ("must not be set: the kubelet would connect to it from the node's network, outside "
           "the environment's NetworkPolicies; a probe checks the pod's own IP")


def no_host(desc):
    return s(desc + " Refused: " + NO_HOST + ".", maxLength=B.Name)


def probe(desc):
    port = {**INT_OR_STRING, "maxLength": B.PortName, "description": "Port number or name."}
    return obj(desc + " A corev1 Probe, passed to the container as given (without host).", {
        "httpGet": obj("HTTP GET check.", {
            "path": s("Path to request.", maxLength=B.Path),
            "port": copy.deepcopy(port),
            "host": no_host("Host to connect to."),
            "scheme": s("HTTP or HTTPS.", enum=["HTTP", "HTTPS"]),
            "httpHeaders": arr("Headers to send.", obj("A header.", {
                "name": s("Header name.", maxLength=B.HeaderName),
                "value": s("Header value.", maxLength=B.HeaderValue)}, required=["name", "value"]),
                maxItems=B.HeaderItems),
        }, required=["port"], **{"x-kubernetes-validations": [
            rule("!has(self.host)", NO_HOST, ".host", "FieldValueForbidden")]}),
        "tcpSocket": obj("TCP connect check.", {"port": copy.deepcopy(port),
                                                  "host": no_host("Host to connect to.")},
                         required=["port"], **{"x-kubernetes-validations": [
                             rule("!has(self.host)", NO_HOST, ".host", "FieldValueForbidden")]}),
        "exec": obj("Command check: exit 0 is healthy.",
                    {"command": strs("Command and arguments.", B.ArgItems, B.Value)}),
        "grpc": obj("gRPC health check.", {"port": i("Port number.", minimum=1, maximum=65535),
                                             "service": s("Service name.", maxLength=B.Name)},
                    required=["port"]),
        "initialDelaySeconds": i("Seconds after the start before the first check.", minimum=0),
        "periodSeconds": i("Seconds between checks.", minimum=1),
        "timeoutSeconds": i("Seconds before a check times out.", minimum=1),
        "failureThreshold": i("Failures in a row that count as failed.", minimum=1),
        "successThreshold": i("Successes in a row that count as passed.", minimum=1),
        "terminationGracePeriodSeconds": i("Grace period when the probe fails.", minimum=1),
    })


ENV_NAME = s("Variable name.", minLength=1, maxLength=B.Name, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def key_ref(desc, kind):
    return obj(desc, {
        "name": s(f"{kind} name.", maxLength=B.Name),
        "key": s("Key.", maxLength=B.Name),
        "optional": {"type": "boolean", "description": "Missing is not an error."}},
        required=["name", "key"])


def env_list(desc):
    names = " or ".join(READABLE_SECRETS)
    secret_ref = key_ref(
        f"A key of a Secret in the environment's namespace: {names} (the environment's database "
        "credentials, the team's secrets); the namespace's other Secrets are the operator's.",
        "Secret")
    secret_ref["x-kubernetes-validations"] = [{
        **rule("self.name in [" + ", ".join(f"'{n}'" for n in READABLE_SECRETS) + "]",
               f"must be {names}: the environment namespace's other Secrets are not the tenant's",
               ".name"),
        "messageExpression": f'"Secret " + self.name + " is not the tenant\'s: only {names} '
                             'may be read (the namespace\'s other Secrets are the operator\'s)"'}]
    return arr(desc + " Merged by name: a Project template's list first, the Environment's "
               "values win.", obj("An environment variable (corev1 EnvVar).", {
                   "name": copy.deepcopy(ENV_NAME),
                   "value": s("Value; $(OTHER) refers to an earlier variable.", maxLength=B.Value),
                   "valueFrom": obj("Value from a Secret key, a ConfigMap key, a pod field or a "
                                    "container resource (corev1 EnvVarSource), passed as given.", {
                                        "secretKeyRef": secret_ref,
                                        "configMapKeyRef": key_ref("A key of a ConfigMap.", "ConfigMap"),
                                        "fieldRef": obj("A field of the pod.", {
                                            "fieldPath": s("e.g. metadata.name.", maxLength=B.FieldPath),
                                            "apiVersion": s("Schema version.", maxLength=B.FieldPath)},
                                            required=["fieldPath"]),
                                        "resourceFieldRef": obj("A resource of a container.", {
                                            "containerName": s("Container name.", maxLength=B.Label),
                                            "resource": s("e.g. limits.memory.", maxLength=B.Name),
                                            "divisor": quantity("Unit of the value, e.g. 1Mi.")},
                                            required=["resource"]),
                                    }),
               }, required=["name"]), maxItems=B.EnvItems)


def ports(desc):
    return arr(desc, obj("A container port.", {
        "containerPort": i("Port number.", minimum=1, maximum=65535),
        "name": s("Port name (IANA service name).", maxLength=B.PortName),
        "protocol": s("Protocol.", enum=["TCP", "UDP", "SCTP"]),
    }, required=["containerPort"]), maxItems=B.PortItems)


MOUNTS = arr("Volumes mounted into the container, by name of spec.config.volumes. "
             "The git clone goes into the first mount's path.",
             obj("A volume mount (corev1 VolumeMount).", {
                 "name": s("A volume of spec.config.volumes (default: workspace).", maxLength=B.Label),
                 "mountPath": s("Absolute path in the container.", pattern="^/", maxLength=B.Path),
                 "subPath": s("Sub-path of the volume to mount.", maxLength=B.Path),
                 "readOnly": {"type": "boolean", "description": "Mount read-only."},
             }, required=["name", "mountPath"]), maxItems=B.MountItems)

CLAIM = obj("A PersistentVolumeClaim spec.", {
    "accessModes": arr("Access modes (default ReadWriteOnce).", s(
        "Access mode.", enum=["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]),
        maxItems=B.AccessModeItems),
    "resources": obj("Requested size.", {
        "requests": obj("Requests.", {"storage": quantity("Size, e.g. 5Gi.")}, required=["storage"]),
    }, required=["requests"]),
    "storageClassName": s("StorageClass (default: the operator's --storage-class, else the "
                          "cluster's default).", maxLength=B.Name),
}, required=["resources"])


def container_fields():
    return {
        "image": s("Image to run.", maxLength=B.Image),
        "command": strs("Entrypoint (replaces the image's).", B.ArgItems, B.Value),
        "args": strs("Arguments to the entrypoint.", B.ArgItems, B.Value),
        "workingDir": s("Working directory (absolute).", pattern="^/", maxLength=B.Path),
        "env": env_list("Environment variables."),
        "resources": resources("CPU and memory."),
        "volumeMounts": copy.deepcopy(MOUNTS),
    }


DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def config_schema(where):
    c = container_fields()
    c["image"]["description"] = (
        "Image of the web container. development/workspace: default node image of the operator; "
        "production: required.")
    c["command"]["description"] = (
        "Command of the web container. development default: npx next dev --turbopack; "
        "workspace default: sleep infinity; production default: the image's entrypoint.")
    c["workingDir"]["description"] = "Working directory of the web container (default: the clone)."
    props = dict(c)
    init = obj("An init container.", {"name": s("Name (DNS label; not git-clone).",
                                                pattern=DNS_LABEL, maxLength=B.Label),
                                      **container_fields()}, required=["name"])
    init["x-kubernetes-validations"] = [rule(
        "self.name != 'git-clone'", "git-clone is the operator's own init container", ".name")]
    service = obj("A managed service.", {
        "name": s("Name: Deployment, Service and DNS name (not web or workspace).",
                  pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", maxLength=B.Label),
        "container": obj("Its container.", {
            "image": s("Image.", maxLength=B.Image),
            "ports": ports("Ports, also the Service's (postgres default: 5432)."),
            "env": env_list("Environment variables."),
            "resources": resources("CPU and memory (default: the operator's postgres sizes)."),
        }, required=["image"]),
        "storage": {**copy.deepcopy(CLAIM), "description": "A volume for its data (postgres: PGDATA)."},
        "database": s("Postgres database name (POSTGRES_DB when env does not set it).",
                      maxLength=B.Label),
    }, required=["name", "container"])
    service["x-kubernetes-validations"] = [rule(
        "!(self.name in ['web', 'workspace'])",
        "web and workspace are the names of the operator's own Deployments", ".name")]
    props.update({
        "envVars": arr("Legacy form of env ({name, value}); read as env, env wins on a name.",
                       obj("A variable.", {"name": copy.deepcopy(ENV_NAME),
                                           "value": s("Value.", maxLength=B.Value)},
                           required=["name"]), maxItems=B.EnvItems),
        "ports": ports("Ports the container listens on; the first is the web port (Service port 80 "
                       "routes to it, PORT is set to it). Default: 3000."),
        "livenessProbe": probe("Liveness check of the web container."),
        "readinessProbe": probe("Readiness check of the web container (default: TCP on the first port)."),
        "startupProbe": probe("Startup check of the web container."),
        "initContainers": arr(
            "Steps run after the operator's git-clone, in order, each to completion; they replace "
            "the default npm-install and db-migrate. Missing image, workingDir and volumeMounts "
            "default to the web container's. Not run in production mode.",
            init, maxItems=B.InitContainerItems),
        "services": arr(
            "Services beside the web container, each a Deployment and a Service of its name "
            "(and a claim <name>-data with storage). Absent: the operator's postgres; empty: none. "
            "Postgres images (or database set) get a pg_isready readiness check; the web "
            "container starts once every service is ready.",
            service, maxItems=B.ServiceItems),
        "volumes": arr(
            "Volumes of the web pod, each a claim of that name (absent: a workspace volume of the "
            "operator's size; production: none).",
            obj("A volume.", {
                "name": s("Name (DNS label), also the claim's.", pattern=DNS_LABEL,
                          maxLength=B.Label),
                "persistentVolumeClaim": {**copy.deepcopy(CLAIM), "description": "The claim's spec; absent: an emptyDir."},
            }, required=["name"]), maxItems=B.VolumeItems),
    })
    return obj(f"The web container and what runs beside it ({where}). Silent fields keep the "
               "seed's defaults.", props)


def repository_url(desc):
    # git reads git@host/path (no colon before the first slash) as a local path: the clone
    # would look for a directory of that name (src/api/v1alpha1/environment.cc,
    # ValidRepositoryUrl, refuses the same).
    return s(desc, maxLength=B.Url, pattern=r"^(https?://|ssh://|git://|git@)[^\s]+$", **{
        "x-kubernetes-validations": [rule(
            "!self.startsWith('git@') || self.matches('^git@[^/:]+:.')",
            "git@host needs a colon and a path after the host (git@github.com:org/repo.git); "
            "without one git reads a local path")]})


CONDITIONS = arr("Observations of the object's state (metav1.Condition).", obj("A condition.", {
    "type": s("Condition type.", maxLength=316),
    "status": s("True, False or Unknown.", enum=["True", "False", "Unknown"]),
    "reason": s("Machine-readable reason in CamelCase.", maxLength=1024),
    "message": s("Human-readable details.", maxLength=32768),
    "lastTransitionTime": s("When status last changed.", format="date-time", maxLength=64),
    "observedGeneration": i("The generation the condition was set for.", format="int64"),
}, required=["type", "status", "lastTransitionTime"]), maxItems=B.ConditionItems,
    **{"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]})

META = {"apiVersion": s("Versioned schema of this object: catalyst.catalyst.dev/v1alpha1."),
        "kind": s("The kind of this object."),
        "metadata": {"type": "object"}}


def environment_crd():
    spec = obj("What the environment runs.", {
        "projectRef": obj("The Project the environment belongs to: looked up in the namespace of "
                          "the catalyst.dev/team label, else the Environment's own. It gives the "
                          "repository, the config template for spec.type and the quota.",
                          {"name": s("Project name.", minLength=1, maxLength=B.Name)}, required=["name"]),
        "type": s("development (a branch under development) or deployment (a built image).",
                  enum=["development", "deployment"]),
        "deploymentMode": s("How to run it: development (clone, install, migrate, dev server), "
                            "production (the image as a Deployment), workspace (a long-running "
                            "pod on the clone). Default: development for type development, "
                            "production for deployment.",
                            enum=["development", "production", "workspace"]),
        "sources": arr("Code to run. The source named web, else the first, is cloned.", obj(
            "A source.", {
                "name": s("Name; the Project source of this name gives the repository.",
                          minLength=1, maxLength=B.Label, pattern=DNS_LABEL),
                "repositoryUrl": repository_url("Repository to clone; overrides the Project's."),
                "branch": s("Branch (default: the Project source's).", maxLength=B.Branch,
                            pattern=r"^[^\s~^:?*\[\\]+$"),
                "commitSha": s("Commit to check out; empty or HEAD means the branch's tip.",
                               pattern=r"^(|HEAD|[0-9a-f]{7,40})$", maxLength=40),
                "prNumber": i("Pull request number, informational.", minimum=1),
            }, required=["name"]), maxItems=B.EnvironmentSourceItems),
        "config": config_schema("merged over the Project template's config for spec.type"),
    }, required=["type"])
    status = obj("What the operator observed.", {
        "phase": s("Pending, Provisioning, Building, Deploying, Ready, Failed or Terminating.",
                   enum=["Pending", "Provisioning", "Building", "Deploying", "Ready", "Failed",
                         "Terminating"]),
        "namespace": s("The environment's namespace (the web app's generateNamespaceWithHash).",
                       maxLength=B.Label),
        "url": s("Where the web container is served.", maxLength=B.Url),
        "observedGeneration": i("The spec generation this status is for.", format="int64"),
        "conditions": copy.deepcopy(CONDITIONS),
        "builds": arr("The images the template's builds[] made for this Environment.", obj(
            "One build.", {
                "name": s("The build's name.", maxLength=B.Label),
                "commit": s("The commit (or branch) built.", maxLength=B.Branch),
                "image": s("Where it is pushed: <registry>/<project>/<build>-<environment>:<tag>.",
                           maxLength=B.Url),
                "digest": s("The pushed image's digest (sha256:...), once built.", maxLength=128),
                "state": s("Running, Succeeded or Failed.",
                           enum=["Running", "Succeeded", "Failed"]),
                "job": s("The Job that builds it.", maxLength=B.Label),
                "message": s("Why it failed: the build's log tail.", maxLength=4096),
            }, required=["name", "state"]), maxItems=B.BuildItems),
    })
    return crd("Environment", "environments", ["env"], "A preview or development environment: "
               "a namespace with quota and network isolation, a database and a web app built "
               "from a branch.", spec, status, [
                   {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                   {"name": "Ready", "type": "string",
                    "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                   {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
                   {"name": "Target", "type": "string", "jsonPath": ".status.namespace"},
                   {"name": "URL", "type": "string", "jsonPath": ".status.url"},
                   {"name": "Branch", "type": "string", "jsonPath": ".spec.sources[0].branch",
                    "priority": 1},
                   {"name": "Commit", "type": "string", "jsonPath": ".spec.sources[0].commitSha",
                    "priority": 1},
                   {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
               ])


def project_crd():
    template = obj("A template for Environments of one type.", {
        "sourceRef": s("The source Environments of this type clone when theirs matches none.",
                       maxLength=B.Label),
        "type": s("How the environment is deployed.", enum=["helm", "manifest", "kustomize", "docker-compose"]),
        "path": s("Path in the repository (chart, manifests).", maxLength=B.Path),
        "builds": arr("Images to build.", obj("An image build.", {
            "name": s("Build name.", maxLength=B.Label),
            "sourceRef": s("Source to build.", maxLength=B.Label),
            "path": s("Build context.", maxLength=B.Path),
            "dockerfile": s("Dockerfile path.", maxLength=B.Path),
            "resources": resources("Resources of the build."),
        }, required=["name", "sourceRef"]), maxItems=B.BuildItems),
        "values": {"type": "object", "description": "Free-form values (e.g. Helm values), kept as "
                   f"given (at most {B.ValuesProperties} top-level keys).",
                   "maxProperties": B.ValuesProperties,
                   "x-kubernetes-preserve-unknown-fields": True},
        "config": config_schema("defaults under each Environment's spec.config"),
    }, required=["type"])
    spec = obj("The project's code, templates and quota.", {
        "sources": arr("Repositories: the primary one is named primary, others source-<n>.", obj(
            "A repository.", {
                "name": s("Name.", minLength=1, maxLength=B.Label),
                "repositoryUrl": repository_url("Clone URL."),
                "branch": s("Default branch.", maxLength=B.Branch),
            }, required=["name", "repositoryUrl", "branch"]), maxItems=B.ProjectSourceItems),
        "templates": {"type": "object", "description": "Templates by environment type (development, deployment).",
                      "additionalProperties": template, "maxProperties": B.TemplateProperties,
                      "x-kubernetes-validations": [rule(
                          f"self.all(k, size(k) <= {B.Label})",
                          f"template names (environment types) are at most {B.Label} characters")]},
        "resources": obj("Resources of the project's environments.", {
            "defaultQuota": obj("The quota of each environment namespace: requests and limits of CPU and memory.", {
                "cpu": quantity("CPU, e.g. \"2\"."),
                "memory": quantity("Memory, e.g. 4Gi."),
            }),
        }),
        # The id is a path segment of the web app's URL (GET /api/git-token/<id>): only digits
        # (or pat), so that no id can name another endpoint.
        "githubInstallationId": s("GitHub App installation id (a number) or pat.",
                                  maxLength=B.InstallationId, pattern=r"^([0-9]+|pat)?$"),
    }, required=["sources"])
    status = obj("What was observed.", {"conditions": copy.deepcopy(CONDITIONS)})
    return crd("Project", "projects", ["proj"], "A Catalyst project: its repositories, the "
               "config templates of its environments and their quota. Lives in the team namespace.",
               spec, status, [
                   {"name": "Repository", "type": "string", "jsonPath": ".spec.sources[0].repositoryUrl"},
                   {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
               ])


def check_bounded(node, path="spec"):
    """Every string has a maxLength, every list a maxItems, every map and free-form object a
    maxProperties: the bounds the CEL cost budget and the operator's memory both need."""
    missing = []
    t = node.get("type")
    if t == "string" or "x-kubernetes-int-or-string" in node:
        if "maxLength" not in node:
            missing.append(path)
    elif t == "array":
        if "maxItems" not in node:
            missing.append(path)
        missing += check_bounded(node["items"], path + "[]")
    elif t == "object":
        extra = node.get("additionalProperties")
        if (extra is not None or node.get("x-kubernetes-preserve-unknown-fields")) and \
                "maxProperties" not in node:
            missing.append(path)
        if isinstance(extra, dict):
            missing += check_bounded(extra, path + ".*")
        for k, v in node.get("properties", {}).items():
            missing += check_bounded(v, f"{path}.{k}")
    return missing


def crd(kind, plural, short, desc, spec, status, columns):
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": kind, "listKind": kind + "List", "plural": plural,
                      "singular": kind.lower(), "shortNames": short, "categories": ["catalyst"]},
            "versions": [{
                "name": "v1alpha1", "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": {"type": "object", "description": desc,
                                               "required": ["spec"],
                                               "properties": {**META, "spec": spec, "status": status}}},
            }],
        },
    }


HEADER = ("# Generated by scripts/gen-crds.py; edit that, not this.\n"
          "# Contract: docs/contract.md. The schema rejects malformed objects at admission;\n"
          "# what it cannot express the operator reports in status (phase Failed, a reason).\n")


def main():
    check = "--check" in sys.argv[1:]
    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data):
            return True
    stale = []
    for doc in (environment_crd(), project_crd()):
        schema = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        missing = check_bounded(schema["spec"]) + check_bounded(schema["status"], "status")
        if missing:
            print("unbounded in " + doc["spec"]["names"]["kind"] + ": " + ", ".join(missing))
            return 1
    for name, doc in (("catalyst.catalyst.dev_environments.yaml", environment_crd()),
                      ("catalyst.catalyst.dev_projects.yaml", project_crd())):
        text = HEADER + yaml.dump(doc, Dumper=Dumper, sort_keys=False, width=100)
        for d in ("crds", "deploy/kube-operator/crds"):
            path = os.path.join(REPO, d, name)
            old = open(path).read() if os.path.exists(path) else None
            if old == text:
                continue
            if check:
                stale.append(path)
            else:
                with open(path, "w") as f:
                    f.write(text)
    if stale:
        print("stale (run scripts/gen-crds.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Writes the CustomResourceDefinitions (crds/ and the chart's copy) from one
description, so the container config schema shared by Environments and
Project templates is written once and every field carries a description
(`kubectl explain environment.spec.config`).

Usage: scripts/gen-crds.py [--check]   (--check: exit 1 if the files differ)
Contract: docs/contract.md; PRODUCT.md "API" and "The real client".
"""
import copy
import os
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUP = "catalyst.catalyst.dev"


def s(desc, **kw):
    return {"type": "string", "description": desc, **kw}


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


QUANTITY = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$",
    "x-kubernetes-int-or-string": True,
}


def quantity(desc):
    return {**copy.deepcopy(QUANTITY), "description": desc}


def resource_list(desc):
    return {"type": "object", "description": desc,
            "additionalProperties": copy.deepcopy(QUANTITY)}


def resources(desc):
    return obj(desc + " Missing values are completed so the namespace quota admits the pod "
               "(cpu and memory requests, a memory limit, and a cpu limit when the Project's "
               "defaultQuota sets cpu).", {
                   "requests": resource_list("Minimum resources, e.g. {cpu: 200m, memory: 512Mi}."),
                   "limits": resource_list("Maximum resources, e.g. {cpu: \"1\", memory: 2Gi}."),
               })


INT_OR_STRING = {"anyOf": [{"type": "integer"}, {"type": "string"}],
                 "x-kubernetes-int-or-string": True}


def probe(desc):
    port = {**INT_OR_STRING, "description": "Port number or name."}
    return obj(desc + " A corev1 Probe, passed to the container as given.", {
        "httpGet": obj("HTTP GET check.", {
            "path": s("Path to request."),
            "port": copy.deepcopy(port),
            "host": s("Host to connect to (default: the pod IP)."),
            "scheme": s("HTTP or HTTPS.", enum=["HTTP", "HTTPS"]),
            "httpHeaders": arr("Headers to send.", obj("A header.", {
                "name": s("Header name."), "value": s("Header value.")}, required=["name", "value"])),
        }, required=["port"]),
        "tcpSocket": obj("TCP connect check.", {"port": copy.deepcopy(port),
                                                  "host": s("Host to connect to.")},
                         required=["port"]),
        "exec": obj("Command check: exit 0 is healthy.",
                    {"command": arr("Command and arguments.", {"type": "string"})}),
        "grpc": obj("gRPC health check.", {"port": i("Port number."),
                                             "service": s("Service name.")}, required=["port"]),
        "initialDelaySeconds": i("Seconds after the start before the first check.", minimum=0),
        "periodSeconds": i("Seconds between checks.", minimum=1),
        "timeoutSeconds": i("Seconds before a check times out.", minimum=1),
        "failureThreshold": i("Failures in a row that count as failed.", minimum=1),
        "successThreshold": i("Successes in a row that count as passed.", minimum=1),
        "terminationGracePeriodSeconds": i("Grace period when the probe fails.", minimum=1),
    }, **{"x-kubernetes-preserve-unknown-fields": True})


ENV_NAME = s("Variable name.", minLength=1, maxLength=253, pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def env_list(desc):
    return arr(desc + " Merged by name: a Project template's list first, the Environment's "
               "values win.", obj("An environment variable (corev1 EnvVar).", {
                   "name": copy.deepcopy(ENV_NAME),
                   "value": s("Value; $(OTHER) refers to an earlier variable.", maxLength=32768),
                   "valueFrom": obj("Value from a Secret key, a ConfigMap key or a pod field "
                                    "(corev1 EnvVarSource), passed as given.", {
                                        "secretKeyRef": obj("A key of a Secret in the environment's namespace.", {
                                            "name": s("Secret name."), "key": s("Key."),
                                            "optional": {"type": "boolean", "description": "Missing is not an error."}},
                                            required=["key"]),
                                        "configMapKeyRef": obj("A key of a ConfigMap.", {
                                            "name": s("ConfigMap name."), "key": s("Key."),
                                            "optional": {"type": "boolean", "description": "Missing is not an error."}},
                                            required=["key"]),
                                        "fieldRef": obj("A field of the pod.", {
                                            "fieldPath": s("e.g. metadata.name."), "apiVersion": s("Schema version.")},
                                            required=["fieldPath"]),
                                    }, **{"x-kubernetes-preserve-unknown-fields": True}),
               }, required=["name"]), maxItems=128)


PORTS = arr("Ports the container listens on; the first is the web port (Service port 80 "
            "routes to it, PORT is set to it). Default: 3000.",
            obj("A container port.", {
                "containerPort": i("Port number.", minimum=1, maximum=65535),
                "name": s("Port name (IANA service name).", maxLength=15),
                "protocol": s("Protocol.", enum=["TCP", "UDP", "SCTP"]),
            }, required=["containerPort"]), maxItems=32)

MOUNTS = arr("Volumes mounted into the container, by name of spec.config.volumes. "
             "The git clone goes into the first mount's path.",
             obj("A volume mount (corev1 VolumeMount).", {
                 "name": s("A volume of spec.config.volumes (default: workspace)."),
                 "mountPath": s("Absolute path in the container.", pattern="^/"),
                 "subPath": s("Sub-path of the volume to mount."),
                 "readOnly": {"type": "boolean", "description": "Mount read-only."},
             }, required=["name", "mountPath"]))

CLAIM = obj("A PersistentVolumeClaim spec.", {
    "accessModes": arr("Access modes (default ReadWriteOnce).", s(
        "Access mode.", enum=["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"])),
    "resources": obj("Requested size.", {
        "requests": obj("Requests.", {"storage": quantity("Size, e.g. 5Gi.")}, required=["storage"]),
    }, required=["requests"]),
    "storageClassName": s("StorageClass (default: the operator's --storage-class, else the cluster's default)."),
}, required=["resources"])


def container_fields():
    return {
        "image": s("Image to run.", maxLength=512),
        "command": arr("Entrypoint (replaces the image's).", {"type": "string"}),
        "args": arr("Arguments to the entrypoint.", {"type": "string"}),
        "workingDir": s("Working directory (absolute).", pattern="^/"),
        "env": env_list("Environment variables."),
        "resources": resources("CPU and memory."),
        "volumeMounts": copy.deepcopy(MOUNTS),
    }


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
    props.update({
        "envVars": arr("Legacy form of env ({name, value}); read as env, env wins on a name.",
                       obj("A variable.", {"name": copy.deepcopy(ENV_NAME),
                                           "value": s("Value.", maxLength=32768)},
                           required=["name"]), maxItems=128),
        "ports": copy.deepcopy(PORTS),
        "livenessProbe": probe("Liveness check of the web container."),
        "readinessProbe": probe("Readiness check of the web container (default: TCP on the first port)."),
        "startupProbe": probe("Startup check of the web container."),
        "initContainers": arr(
            "Steps run after the operator's git-clone, in order, each to completion; they replace "
            "the default npm-install and db-migrate. Missing image, workingDir and volumeMounts "
            "default to the web container's. Not run in production mode.",
            obj("An init container.", {"name": s("Name (DNS label; not git-clone).",
                                                 pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                                                 maxLength=63), **container_fields()},
                required=["name"]), maxItems=16),
        "services": arr(
            "Services beside the web container, each a Deployment and a Service of its name "
            "(and a claim <name>-data with storage). Absent: the operator's postgres; empty: none. "
            "Postgres images (or database set) get a pg_isready readiness check; the web "
            "container starts once every service is ready.",
            obj("A managed service.", {
                "name": s("Name: Deployment, Service and DNS name (not web or workspace).",
                          pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", maxLength=63),
                "container": obj("Its container.", {
                    "image": s("Image.", maxLength=512),
                    "ports": arr("Ports, also the Service's (postgres default: 5432).", copy.deepcopy(PORTS["items"])),
                    "env": env_list("Environment variables."),
                    "resources": resources("CPU and memory (default: the operator's postgres sizes)."),
                }, required=["image"]),
                "storage": {**copy.deepcopy(CLAIM), "description": "A volume for its data (postgres: PGDATA)."},
                "database": s("Postgres database name (POSTGRES_DB when env does not set it)."),
            }, required=["name", "container"]), maxItems=8),
        "volumes": arr(
            "Volumes of the web pod, each a claim of that name (absent: a workspace volume of the "
            "operator's size; production: none).",
            obj("A volume.", {
                "name": s("Name (DNS label), also the claim's.", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                          maxLength=63),
                "persistentVolumeClaim": {**copy.deepcopy(CLAIM), "description": "The claim's spec; absent: an emptyDir."},
            }, required=["name"]), maxItems=8),
    })
    return obj(f"The web container and what runs beside it ({where}). Silent fields keep the "
               "seed's defaults.", props)


CONDITIONS = arr("Observations of the object's state (metav1.Condition).", obj("A condition.", {
    "type": s("Condition type.", maxLength=316),
    "status": s("True, False or Unknown.", enum=["True", "False", "Unknown"]),
    "reason": s("Machine-readable reason in CamelCase.", maxLength=1024),
    "message": s("Human-readable details.", maxLength=32768),
    "lastTransitionTime": s("When status last changed.", format="date-time"),
    "observedGeneration": i("The generation the condition was set for.", format="int64"),
}, required=["type", "status", "lastTransitionTime"]), **{"x-kubernetes-list-type": "map",
                                                         "x-kubernetes-list-map-keys": ["type"]})

META = {"apiVersion": s("Versioned schema of this object: catalyst.catalyst.dev/v1alpha1."),
        "kind": s("The kind of this object."),
        "metadata": {"type": "object"}}


def environment_crd():
    spec = obj("What the environment runs.", {
        "projectRef": obj("The Project the environment belongs to: looked up in the namespace of "
                          "the catalyst.dev/team label, else the Environment's own. It gives the "
                          "repository, the config template for spec.type and the quota.",
                          {"name": s("Project name.", minLength=1, maxLength=253)}, required=["name"]),
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
                          minLength=1, maxLength=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
                "repositoryUrl": s("Repository to clone; overrides the Project's.", maxLength=2048,
                                   pattern=r"^(https?://|ssh://|git://|git@)[^\s]+$"),
                "branch": s("Branch (default: the Project source's).", maxLength=255,
                            pattern=r"^[^\s~^:?*\[\\]+$"),
                "commitSha": s("Commit to check out; empty or HEAD means the branch's tip.",
                               pattern=r"^(|HEAD|[0-9a-f]{7,40})$"),
                "prNumber": i("Pull request number, informational.", minimum=1),
            }, required=["name"]), maxItems=16),
        "config": config_schema("merged over the Project template's config for spec.type"),
    }, required=["type"])
    status = obj("What the operator observed.", {
        "phase": s("Pending, Provisioning, Deploying, Ready, Failed or Terminating.",
                   enum=["Pending", "Provisioning", "Deploying", "Ready", "Failed", "Terminating"]),
        "namespace": s("The environment's namespace (the web app's generateNamespaceWithHash)."),
        "url": s("Where the web container is served."),
        "observedGeneration": i("The spec generation this status is for.", format="int64"),
        "conditions": copy.deepcopy(CONDITIONS),
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
        "sourceRef": s("The source Environments of this type clone when theirs matches none."),
        "type": s("How the environment is deployed.", enum=["helm", "manifest", "kustomize", "docker-compose"]),
        "path": s("Path in the repository (chart, manifests)."),
        "builds": arr("Images to build.", obj("An image build.", {
            "name": s("Build name."),
            "sourceRef": s("Source to build."),
            "path": s("Build context."),
            "dockerfile": s("Dockerfile path."),
            "resources": resources("Resources of the build."),
        }, required=["name", "sourceRef"])),
        "values": {"type": "object", "description": "Free-form values (e.g. Helm values), kept as given.",
                   "x-kubernetes-preserve-unknown-fields": True},
        "config": config_schema("defaults under each Environment's spec.config"),
    }, required=["type"])
    spec = obj("The project's code, templates and quota.", {
        "sources": arr("Repositories: the primary one is named primary, others source-<n>.", obj(
            "A repository.", {
                "name": s("Name.", minLength=1, maxLength=63),
                "repositoryUrl": s("Clone URL.", maxLength=2048,
                                   pattern=r"^(https?://|ssh://|git://|git@)[^\s]+$"),
                "branch": s("Default branch.", maxLength=255),
            }, required=["name", "repositoryUrl", "branch"]), maxItems=32),
        "templates": {"type": "object", "description": "Templates by environment type (development, deployment).",
                      "additionalProperties": template},
        "resources": obj("Resources of the project's environments.", {
            "defaultQuota": obj("The quota of each environment namespace: requests and limits of CPU and memory.", {
                "cpu": quantity("CPU, e.g. \"2\"."),
                "memory": quantity("Memory, e.g. 4Gi."),
            }),
        }),
        "githubInstallationId": s("GitHub App installation id (a number) or pat."),
    }, required=["sources"])
    status = obj("What was observed.", {"conditions": copy.deepcopy(CONDITIONS)})
    return crd("Project", "projects", ["proj"], "A Catalyst project: its repositories, the "
               "config templates of its environments and their quota. Lives in the team namespace.",
               spec, status, [
                   {"name": "Repository", "type": "string", "jsonPath": ".spec.sources[0].repositoryUrl"},
                   {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
               ])


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

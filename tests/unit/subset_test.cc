// IsSubset and CanonicalQuantity (subset.h), and the subset check against
// what kube-apiserver 1.20 really stores for the builders' manifests.
#include "kube/subset.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controllers/environment/manifests.h"
#include "api/v1alpha1/environment.h"
#include "controllers/environment/resolve.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "rapidjson/pointer.h"

namespace controllers {
namespace {

rapidjson::Document Doc(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_FALSE(d.HasParseError()) << json;
  return d;
}

bool Sub(const std::string& desired, const std::string& actual) {
  return kube::IsSubset(Doc(desired), Doc(actual));
}

TEST(SubsetTest, ObjectsIgnoreExtraMembersInActual) {
  EXPECT_TRUE(Sub(R"({})", R"({"a": 1})"));
  EXPECT_TRUE(Sub(R"({"a": {"b": "x"}})", R"({"a": {"b": "x", "c": true}, "d": []})"));
  EXPECT_FALSE(Sub(R"({"a": {"b": "x"}})", R"({"a": {"b": "y"}})"));
  EXPECT_FALSE(Sub(R"({"a": {"b": "x"}})", R"({"a": {}})"));
  EXPECT_FALSE(Sub(R"({"a": 1})", R"({})"));
  EXPECT_FALSE(Sub(R"({"a": {}})", R"({"a": []})"));
}

// Lists server-side apply merges by key: another manager's elements and the
// order do not matter; ours must be there, equal.
TEST(SubsetTest, KeyedListsCompareByKey) {
  EXPECT_TRUE(Sub(R"([{"name": "a"}, {"name": "b"}])",
                  R"([{"name": "a", "x": 1}, {"name": "b", "y": 2}])"));
  EXPECT_TRUE(Sub(R"([{"name": "a"}])", R"([{"name": "a"}, {"name": "b"}])"));
  EXPECT_TRUE(Sub(R"([{"name": "a"}, {"name": "b"}])", R"([{"name": "b"}, {"name": "a"}])"));
  EXPECT_FALSE(Sub(R"([{"name": "a"}, {"name": "b"}])", R"([{"name": "a"}])"));
  EXPECT_FALSE(Sub(R"([{"name": "a", "v": 1}])", R"([{"name": "a", "v": 2}, {"name": "b"}])"));
  // Ports by (containerPort, protocol); mounts by mountPath.
  EXPECT_TRUE(Sub(R"([{"containerPort": 80}])",
                  R"([{"containerPort": 9090, "protocol": "TCP"}, {"containerPort": 80}])"));
  EXPECT_FALSE(Sub(R"([{"containerPort": 80, "protocol": "UDP"}])", R"([{"containerPort": 80}])"));
  EXPECT_TRUE(Sub(R"([{"name": "v", "mountPath": "/a"}])",
                  R"([{"name": "v", "mountPath": "/b"}, {"name": "v", "mountPath": "/a"}])"));
  EXPECT_TRUE(Sub(R"([])", R"([])"));
}

// Atomic lists (no key: commands, NetworkPolicy rules and ports) match in
// length and order: an element added to a NetworkPolicy rule is drift.
TEST(SubsetTest, AtomicListsMatchLengthAndOrder) {
  EXPECT_TRUE(Sub(R"(["a", "b"])", R"(["a", "b"])"));
  EXPECT_FALSE(Sub(R"(["a"])", R"(["a", "b"])"));
  EXPECT_FALSE(Sub(R"(["a", "b"])", R"(["b", "a"])"));
  EXPECT_FALSE(Sub(R"([{"port": 443, "protocol": "TCP"}])",
                   R"([{"port": 443, "protocol": "TCP"}, {"port": 22, "protocol": "TCP"}])"));
}

TEST(SubsetTest, ScalarsCompareByValue) {
  EXPECT_TRUE(Sub(R"({"n": 1})", R"({"n": 1.0})"));
  EXPECT_TRUE(Sub(R"({"n": 1.5})", R"({"n": 1.5})"));
  EXPECT_FALSE(Sub(R"({"n": 1})", R"({"n": 2})"));
  EXPECT_FALSE(Sub(R"({"n": 1})", R"({"n": "1"})"));
  EXPECT_TRUE(Sub(R"({"b": false})", R"({"b": false})"));
  EXPECT_FALSE(Sub(R"({"b": false})", R"({"b": true})"));
  EXPECT_FALSE(Sub(R"({"s": "512Mi"})", R"({"s": "0.5Gi"})"));
  EXPECT_TRUE(Sub(R"({"big": 18446744073709551615})", R"({"big": 18446744073709551615})"));
}

TEST(SubsetTest, NullInDesiredMeansAbsent) {
  EXPECT_TRUE(Sub(R"({"a": null})", R"({})"));
  EXPECT_TRUE(Sub(R"({"a": null})", R"({"a": null})"));
  EXPECT_FALSE(Sub(R"({"a": null})", R"({"a": 1})"));
}

// What kube-apiserver stores for a ResourceList quantity it is sent: every
// case was checked against kube-apiserver v1.20.2 (a dry-run ResourceQuota).
// The server does not store omitempty zero values: an env var's value "" is
// absent from what it returns, and must not count as drift (found by the
// bad-input e2e test: re-applied every pass, never Ready).
TEST(SubsetTest, ZeroValuesInDesiredMatchAbsentMembers) {
  EXPECT_TRUE(Sub(R"({"name": "A", "value": ""})", R"({"name": "A"})"));
  EXPECT_TRUE(Sub(R"({"a": false, "b": 0, "c": [], "d": {}})", R"({})"));
  // Present values still compare: "" is not "x", 0 is not 1.
  EXPECT_FALSE(Sub(R"({"value": ""})", R"({"value": "x"})"));
  EXPECT_FALSE(Sub(R"({"n": 0})", R"({"n": 1})"));
  EXPECT_FALSE(Sub(R"({"value": "x"})", R"({})"));
  EXPECT_FALSE(Sub(R"({"a": [1]})", R"({})"));
}


// --- against kube-apiserver 1.20 ----------------------------------------------------------------
//
// What kube-apiserver v1.20.2 (scripts/cluster-up.sh, with its
// kube-controller-manager) returned on GET after a server-side apply of the
// builders' output for ServerFixture(): its defaults (imagePullPolicy,
// terminationMessagePath, protocol, revisionHistoryLimit kept, dnsPolicy,
// schedulerName, securityContext {}, probe thresholds, volumeMode,
// sessionAffinity, clusterIP, namespace finalizers...), its metadata and the
// controllers' status. managedFields are left out. To refresh: apply the
// builders' output to a local cluster the same way and GET it back.

constexpr char kServerNamespace[] = R"json({
  "kind": "Namespace",
  "apiVersion": "v1",
  "metadata": {
    "name": "my-team-my-project-pr-123",
    "uid": "3e94624a-e356-4790-b09c-0def06e37d23",
    "resourceVersion": "221",
    "creationTimestamp": "2026-11-27T16:50:11Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/branch": "feature-login",
      "catalyst.dev/environment": "pr-123",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11",
      "catalyst.dev/namespace-type": "environment",
      "catalyst.dev/project": "my-project",
      "catalyst.dev/team": "my-team"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"}
  },
  "spec": {"finalizers": ["kubernetes"]},
  "status": {"phase": "Active"}
})json";

constexpr char kServerResourceQuotaEnvironmentQuota[] = R"json({
  "kind": "ResourceQuota",
  "apiVersion": "v1",
  "metadata": {
    "name": "environment-quota",
    "namespace": "my-team-my-project-pr-123",
    "uid": "5d01d5c8-7b27-42fd-a5a9-0b19a28431f7",
    "resourceVersion": "371",
    "creationTimestamp": "2026-11-27T16:50:12Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"}
  },
  "spec": {
    "hard": {
      "limits.memory": "8Gi",
      "pods": "20",
      "requests.cpu": "4",
      "requests.memory": "8Gi",
      "requests.storage": "20Gi"
    }
  },
  "status": {
    "hard": {
      "limits.memory": "8Gi",
      "pods": "20",
      "requests.cpu": "4",
      "requests.memory": "8Gi",
      "requests.storage": "20Gi"
    },
    "used": {
      "limits.memory": "2560Mi",
      "pods": "2",
      "requests.cpu": "350m",
      "requests.memory": "2560Mi",
      "requests.storage": "6Gi"
    }
  }
})json";

constexpr char kServerNetworkPolicyDefaultDenyAll[] = R"json({
  "kind": "NetworkPolicy",
  "apiVersion": "networking.k8s.io/v1",
  "metadata": {
    "name": "default-deny-all",
    "namespace": "my-team-my-project-pr-123",
    "uid": "293b335f-d535-4299-a036-1d9f1938617b",
    "resourceVersion": "228",
    "generation": 1,
    "creationTimestamp": "2026-11-27T16:50:12Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"}
  },
  "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
})json";

constexpr char kServerNetworkPolicyAllowIngressController[] = R"json({
  "kind": "NetworkPolicy",
  "apiVersion": "networking.k8s.io/v1",
  "metadata": {
    "name": "allow-ingress-controller",
    "namespace": "my-team-my-project-pr-123",
    "uid": "39e5f0ff-c172-49d6-b758-415c24d61658",
    "resourceVersion": "229",
    "generation": 1,
    "creationTimestamp": "2026-11-27T16:50:12Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"}
  },
  "spec": {
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
    "ingress": [
      {
        "ports": [{"protocol": "TCP", "port": 3000}],
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]
      }
    ],
    "policyTypes": ["Ingress"]
  }
})json";

constexpr char kServerNetworkPolicyAllowSameNamespace[] = R"json({
  "kind": "NetworkPolicy",
  "apiVersion": "networking.k8s.io/v1",
  "metadata": {
    "name": "allow-same-namespace",
    "namespace": "my-team-my-project-pr-123",
    "uid": "d4eb211d-def4-44ee-a9d7-e92056b25d57",
    "resourceVersion": "230",
    "generation": 1,
    "creationTimestamp": "2026-11-27T16:50:12Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"}
  },
  "spec": {
    "podSelector": {},
    "ingress": [{"from": [{"podSelector": {}}]}],
    "egress": [{"to": [{"podSelector": {}}]}],
    "policyTypes": ["Ingress", "Egress"]
  }
})json";

constexpr char kServerNetworkPolicyAllowDnsEgress[] = R"json({
  "kind": "NetworkPolicy",
  "apiVersion": "networking.k8s.io/v1",
  "metadata": {
    "name": "allow-dns-egress",
    "namespace": "my-team-my-project-pr-123",
    "uid": "ba3beb89-7878-4d2c-bcca-2164a90c2845",
    "resourceVersion": "231",
    "generation": 1,
    "creationTimestamp": "2026-11-27T16:50:12Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"}
  },
  "spec": {
    "podSelector": {},
    "egress": [
      {
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
      }
    ],
    "policyTypes": ["Egress"]
  }
})json";

constexpr char kServerNetworkPolicyAllowHttpsEgress[] = R"json({
  "kind": "NetworkPolicy",
  "apiVersion": "networking.k8s.io/v1",
  "metadata": {
    "name": "allow-https-egress",
    "namespace": "my-team-my-project-pr-123",
    "uid": "84718435-ce38-42a7-8b51-5342bd0d4a6b",
    "resourceVersion": "232",
    "generation": 1,
    "creationTimestamp": "2026-11-27T16:50:12Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"}
  },
  "spec": {
    "podSelector": {},
    "egress": [{"ports": [{"protocol": "TCP", "port": 443}]}],
    "policyTypes": ["Egress"]
  }
})json";

constexpr char kServerPersistentVolumeClaimPostgresData[] = R"json({
  "kind": "PersistentVolumeClaim",
  "apiVersion": "v1",
  "metadata": {
    "name": "postgres-data",
    "namespace": "my-team-my-project-pr-123",
    "uid": "e9775c6b-7fb5-4d53-bff8-3011ff667be8",
    "resourceVersion": "322",
    "creationTimestamp": "2026-11-27T16:50:12Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/name": "postgres",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"},
    "finalizers": ["kubernetes.io/pvc-protection"]
  },
  "spec": {
    "accessModes": ["ReadWriteOnce"],
    "resources": {"requests": {"storage": "1Gi"}},
    "volumeMode": "Filesystem"
  },
  "status": {"phase": "Pending"}
})json";

constexpr char kServerDeploymentPostgres[] = R"json({
  "kind": "Deployment",
  "apiVersion": "apps/v1",
  "metadata": {
    "name": "postgres",
    "namespace": "my-team-my-project-pr-123",
    "uid": "777d87ac-a528-4201-9d9b-b691a7713ed0",
    "resourceVersion": "356",
    "generation": 2,
    "creationTimestamp": "2026-11-27T16:50:12Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/name": "postgres",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {
      "catalyst.dev/environment": "my-team-my-project/pr-123",
      "deployment.kubernetes.io/revision": "2"
    }
  },
  "spec": {
    "replicas": 1,
    "selector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
    "template": {
      "metadata": {
        "creationTimestamp": null,
        "labels": {
          "app.kubernetes.io/managed-by": "kube-operator",
          "app.kubernetes.io/name": "postgres",
          "app.kubernetes.io/part-of": "catalyst-environment",
          "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
        },
        "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"}
      },
      "spec": {
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "postgres-data"}}],
        "containers": [
          {
            "name": "postgres",
            "image": "postgres:16-alpine",
            "ports": [{"name": "postgres", "containerPort": 5432, "protocol": "TCP"}],
            "env": [
              {"name": "POSTGRES_DB", "value": "app"},
              {"name": "POSTGRES_USER", "value": "app"},
              {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "postgres-credentials", "key": "password"}}},
              {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}
            ],
            "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "512Mi"}},
            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
            "readinessProbe": {
              "exec": {"command": ["pg_isready", "-U", "app", "-d", "app"]},
              "timeoutSeconds": 1,
              "periodSeconds": 5,
              "successThreshold": 1,
              "failureThreshold": 3
            },
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "imagePullPolicy": "IfNotPresent"
          }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "automountServiceAccountToken": false,
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "enableServiceLinks": false
      }
    },
    "strategy": {"type": "Recreate"},
    "revisionHistoryLimit": 3,
    "progressDeadlineSeconds": 600
  },
  "status": {
    "observedGeneration": 2,
    "replicas": 1,
    "updatedReplicas": 1,
    "unavailableReplicas": 1,
    "conditions": [
      {
        "type": "Available",
        "status": "False",
        "lastUpdateTime": "2026-11-27T16:50:12Z",
        "lastTransitionTime": "2026-11-27T16:50:12Z",
        "reason": "MinimumReplicasUnavailable",
        "message": "Deployment does not have minimum availability."
      },
      {
        "type": "Progressing",
        "status": "True",
        "lastUpdateTime": "2026-11-27T16:51:07Z",
        "lastTransitionTime": "2026-11-27T16:50:12Z",
        "reason": "ReplicaSetUpdated",
        "message": "ReplicaSet \"postgres-56d55c8578\" is progressing."
      }
    ]
  }
})json";

constexpr char kServerServicePostgres[] = R"json({
  "kind": "Service",
  "apiVersion": "v1",
  "metadata": {
    "name": "postgres",
    "namespace": "my-team-my-project-pr-123",
    "uid": "13fe57af-89f4-4901-93ab-c9f9b6650cc2",
    "resourceVersion": "248",
    "creationTimestamp": "2026-11-27T16:50:12Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/name": "postgres",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"}
  },
  "spec": {
    "ports": [{"name": "postgres", "protocol": "TCP", "port": 5432, "targetPort": 5432}],
    "selector": {"app.kubernetes.io/name": "postgres"},
    "clusterIP": "10.96.247.4",
    "clusterIPs": ["10.96.247.4"],
    "type": "ClusterIP",
    "sessionAffinity": "None"
  },
  "status": {"loadBalancer": {}}
})json";

constexpr char kServerPersistentVolumeClaimWorkspace[] = R"json({
  "kind": "PersistentVolumeClaim",
  "apiVersion": "v1",
  "metadata": {
    "name": "workspace",
    "namespace": "my-team-my-project-pr-123",
    "uid": "f894b7b8-bd34-4f1d-ac40-b0cdef0da8a9",
    "resourceVersion": "324",
    "creationTimestamp": "2026-11-27T16:50:12Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/name": "web",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"},
    "finalizers": ["kubernetes.io/pvc-protection"]
  },
  "spec": {
    "accessModes": ["ReadWriteOnce"],
    "resources": {"requests": {"storage": "5Gi"}},
    "volumeMode": "Filesystem"
  },
  "status": {"phase": "Pending"}
})json";

constexpr char kServerDeploymentWeb[] = R"json({
  "kind": "Deployment",
  "apiVersion": "apps/v1",
  "metadata": {
    "name": "web",
    "namespace": "my-team-my-project-pr-123",
    "uid": "bf32e52d-579b-4976-987e-576c391ee989",
    "resourceVersion": "377",
    "generation": 2,
    "creationTimestamp": "2026-11-27T16:50:12Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/name": "web",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {
      "catalyst.dev/environment": "my-team-my-project/pr-123",
      "deployment.kubernetes.io/revision": "2"
    }
  },
  "spec": {
    "replicas": 1,
    "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
    "template": {
      "metadata": {
        "creationTimestamp": null,
        "labels": {
          "app.kubernetes.io/managed-by": "kube-operator",
          "app.kubernetes.io/name": "web",
          "app.kubernetes.io/part-of": "catalyst-environment",
          "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
        },
        "annotations": {
          "catalyst.dev/environment": "my-team-my-project/pr-123",
          "catalyst.dev/revision": "2d7a270ed736"
        }
      },
      "spec": {
        "volumes": [{"name": "workspace", "persistentVolumeClaim": {"claimName": "workspace"}}],
        "initContainers": [
          {
            "name": "git-clone",
            "image": "alpine/git:2.45.2",
            "command": [
              "sh",
              "-c",
              "set -eu\nurl=$1 branch=$2 sha=$3 dest=$4\nmkdir -p \"$dest\"\ncd \"$dest\"\nexport GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0=\"$dest\"\n[ -d .git ] || git init -q .\ngit remote remove origin 2>/dev/null || true\ngit remote add origin \"$url\"\nif [ -n \"$sha\" ]; then\n  if [ ${#sha} -eq 40 ] && git fetch -q --depth 1 origin \"$sha\"; then :; else\n    git fetch -q --tags origin '+refs/heads/*:refs/remotes/origin/*'\n  fi\n  git rev-parse -q --verify \"$sha^{commit}\" >/dev/null ||\n    { echo \"commit $sha not found in $url\" >&2; exit 1; }\n  ref=$sha\nelif [ -n \"$branch\" ]; then\n  git fetch -q --depth 1 origin \"+refs/heads/$branch:refs/remotes/origin/$branch\" ||\n    { echo \"branch $branch not found in $url\" >&2; exit 1; }\n  ref=refs/remotes/origin/$branch\nelse\n  git fetch -q --depth 1 origin HEAD\n  ref=FETCH_HEAD\nfi\ngit checkout -q -f --detach \"$ref\"\ngit clean -q -ffdx -e lost+found -e .npm\n",
              "git-clone",
              "https://github.com/org/repo",
              "feature/login",
              "a1b2c3d",
              "/workspace/app"
            ],
            "resources": {"limits": {"memory": "2Gi"}, "requests": {"cpu": "250m", "memory": "2Gi"}},
            "volumeMounts": [{"name": "workspace", "mountPath": "/workspace"}],
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "imagePullPolicy": "IfNotPresent"
          },
          {
            "name": "npm-install",
            "image": "node:20-bookworm-slim",
            "command": ["npm", "ci"],
            "workingDir": "/workspace/app",
            "env": [
              {"name": "npm_config_cache", "value": "/workspace/.npm"},
              {"name": "DEBUG", "value": "true"}
            ],
            "resources": {"limits": {"memory": "2Gi"}, "requests": {"cpu": "250m", "memory": "2Gi"}},
            "volumeMounts": [{"name": "workspace", "mountPath": "/workspace"}],
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "imagePullPolicy": "IfNotPresent"
          },
          {
            "name": "db-migrate",
            "image": "node:20-bookworm-slim",
            "command": ["npm", "run", "db:migrate"],
            "workingDir": "/workspace/app",
            "env": [
              {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "postgres-credentials", "key": "password"}}},
              {
                "name": "DATABASE_URL",
                "value": "postgres://app:$(DB_PASSWORD)@postgres.my-team-my-project-pr-123.svc:5432/app"
              },
              {"name": "PORT", "value": "3000"},
              {"name": "DEBUG", "value": "true"}
            ],
            "resources": {"limits": {"memory": "2Gi"}, "requests": {"cpu": "250m", "memory": "2Gi"}},
            "volumeMounts": [{"name": "workspace", "mountPath": "/workspace"}],
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "imagePullPolicy": "IfNotPresent"
          }
        ],
        "containers": [
          {
            "name": "web",
            "image": "node:20-bookworm-slim",
            "command": ["npx", "next", "dev", "--turbopack", "--hostname", "0.0.0.0", "--port", "3000"],
            "workingDir": "/workspace/app",
            "ports": [{"name": "http", "containerPort": 3000, "protocol": "TCP"}],
            "env": [
              {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "postgres-credentials", "key": "password"}}},
              {
                "name": "DATABASE_URL",
                "value": "postgres://app:$(DB_PASSWORD)@postgres.my-team-my-project-pr-123.svc:5432/app"
              },
              {"name": "PORT", "value": "3000"},
              {"name": "DEBUG", "value": "true"}
            ],
            "resources": {"limits": {"memory": "2Gi"}, "requests": {"cpu": "250m", "memory": "2Gi"}},
            "volumeMounts": [{"name": "workspace", "mountPath": "/workspace"}],
            "readinessProbe": {
              "tcpSocket": {"port": 3000},
              "timeoutSeconds": 1,
              "periodSeconds": 5,
              "successThreshold": 1,
              "failureThreshold": 3
            },
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "imagePullPolicy": "IfNotPresent"
          }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "automountServiceAccountToken": false,
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "enableServiceLinks": false
      }
    },
    "strategy": {"type": "Recreate"},
    "revisionHistoryLimit": 3,
    "progressDeadlineSeconds": 600
  },
  "status": {
    "observedGeneration": 2,
    "replicas": 1,
    "updatedReplicas": 1,
    "unavailableReplicas": 1,
    "conditions": [
      {
        "type": "Available",
        "status": "False",
        "lastUpdateTime": "2026-11-27T16:50:13Z",
        "lastTransitionTime": "2026-11-27T16:50:13Z",
        "reason": "MinimumReplicasUnavailable",
        "message": "Deployment does not have minimum availability."
      },
      {
        "type": "Progressing",
        "status": "True",
        "lastUpdateTime": "2026-11-27T16:51:07Z",
        "lastTransitionTime": "2026-11-27T16:50:13Z",
        "reason": "ReplicaSetUpdated",
        "message": "ReplicaSet \"web-585988f866\" is progressing."
      }
    ]
  }
})json";

constexpr char kServerServiceWeb[] = R"json({
  "kind": "Service",
  "apiVersion": "v1",
  "metadata": {
    "name": "web",
    "namespace": "my-team-my-project-pr-123",
    "uid": "a4d11a0b-7097-4d7a-8747-5b93391c1ed4",
    "resourceVersion": "266",
    "creationTimestamp": "2026-11-27T16:50:13Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/name": "web",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"}
  },
  "spec": {
    "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 3000}],
    "selector": {"app.kubernetes.io/name": "web"},
    "clusterIP": "10.96.189.178",
    "clusterIPs": ["10.96.189.178"],
    "type": "ClusterIP",
    "sessionAffinity": "None"
  },
  "status": {"loadBalancer": {}}
})json";

constexpr char kServerIngressWeb[] = R"json({
  "kind": "Ingress",
  "apiVersion": "networking.k8s.io/v1",
  "metadata": {
    "name": "web",
    "namespace": "my-team-my-project-pr-123",
    "uid": "c792fef5-fa5f-44d4-8a80-a7cd43fbf2f4",
    "resourceVersion": "269",
    "generation": 1,
    "creationTimestamp": "2026-11-27T16:50:13Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/name": "web",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {"catalyst.dev/environment": "my-team-my-project/pr-123"}
  },
  "spec": {
    "ingressClassName": "nginx",
    "rules": [
      {
        "host": "my-team-my-project-pr-123.preview.local",
        "http": {
          "paths": [
            {
              "path": "/",
              "pathType": "Prefix",
              "backend": {"service": {"name": "web", "port": {"number": 80}}}
            }
          ]
        }
      }
    ]
  },
  "status": {"loadBalancer": {}}
})json";

constexpr char kServerDeploymentTypeDeploymentWeb[] = R"json({
  "kind": "Deployment",
  "apiVersion": "apps/v1",
  "metadata": {
    "name": "web",
    "namespace": "deploy-ns",
    "uid": "0b4e90e5-c24b-413e-b653-8f92396e40c0",
    "resourceVersion": "422",
    "generation": 2,
    "creationTimestamp": "2026-11-27T16:50:15Z",
    "labels": {
      "app.kubernetes.io/managed-by": "kube-operator",
      "app.kubernetes.io/name": "web",
      "app.kubernetes.io/part-of": "catalyst-environment",
      "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
    },
    "annotations": {
      "catalyst.dev/environment": "my-team-my-project/pr-123",
      "deployment.kubernetes.io/revision": "2"
    }
  },
  "spec": {
    "replicas": 1,
    "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
    "template": {
      "metadata": {
        "creationTimestamp": null,
        "labels": {
          "app.kubernetes.io/managed-by": "kube-operator",
          "app.kubernetes.io/name": "web",
          "app.kubernetes.io/part-of": "catalyst-environment",
          "catalyst.dev/environment-uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11"
        },
        "annotations": {
          "catalyst.dev/environment": "my-team-my-project/pr-123",
          "catalyst.dev/revision": "cd636028c120"
        }
      },
      "spec": {
        "initContainers": [
          {
            "name": "db-migrate",
            "image": "ghcr.io/org/app:sha",
            "command": ["npm", "run", "db:migrate"],
            "env": [
              {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "postgres-credentials", "key": "password"}}},
              {
                "name": "DATABASE_URL",
                "value": "postgres://app:$(DB_PASSWORD)@postgres.deploy-ns.svc:5432/app"
              },
              {"name": "PORT", "value": "3000"},
              {"name": "DEBUG", "value": "true"}
            ],
            "resources": {"limits": {"memory": "2Gi"}, "requests": {"cpu": "250m", "memory": "2Gi"}},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "imagePullPolicy": "IfNotPresent"
          }
        ],
        "containers": [
          {
            "name": "web",
            "image": "ghcr.io/org/app:sha",
            "ports": [{"name": "http", "containerPort": 3000, "protocol": "TCP"}],
            "env": [
              {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "postgres-credentials", "key": "password"}}},
              {
                "name": "DATABASE_URL",
                "value": "postgres://app:$(DB_PASSWORD)@postgres.deploy-ns.svc:5432/app"
              },
              {"name": "PORT", "value": "3000"},
              {"name": "DEBUG", "value": "true"}
            ],
            "resources": {"limits": {"memory": "2Gi"}, "requests": {"cpu": "250m", "memory": "2Gi"}},
            "readinessProbe": {
              "tcpSocket": {"port": 3000},
              "timeoutSeconds": 1,
              "periodSeconds": 5,
              "successThreshold": 1,
              "failureThreshold": 3
            },
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "FallbackToLogsOnError",
            "imagePullPolicy": "IfNotPresent"
          }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "automountServiceAccountToken": false,
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "enableServiceLinks": false
      }
    },
    "strategy": {"type": "Recreate"},
    "revisionHistoryLimit": 3,
    "progressDeadlineSeconds": 600
  },
  "status": {
    "observedGeneration": 2,
    "replicas": 1,
    "updatedReplicas": 1,
    "unavailableReplicas": 1,
    "conditions": [
      {
        "type": "Available",
        "status": "False",
        "lastUpdateTime": "2026-11-27T16:50:15Z",
        "lastTransitionTime": "2026-11-27T16:50:15Z",
        "reason": "MinimumReplicasUnavailable",
        "message": "Deployment does not have minimum availability."
      },
      {
        "type": "Progressing",
        "status": "True",
        "lastUpdateTime": "2026-11-27T16:51:08Z",
        "lastTransitionTime": "2026-11-27T16:50:15Z",
        "reason": "ReplicaSetUpdated",
        "message": "ReplicaSet \"web-65fb84c548\" is progressing."
      }
    ]
  }
})json";

// The Environment the objects above were built from (before the real
// client's config: a development Environment's config.image now runs the web
// container, so the development fixture leaves it out).
v1alpha1::EnvironmentSpec ServerSpec(bool development) {
  auto obj = kube::Object::Parse(absl::StrCat(R"({
    "apiVersion": "catalyst.catalyst.dev/v1alpha1", "kind": "Environment",
    "metadata": {"name": "pr-123", "namespace": "my-team-my-project",
      "uid": "6f1c1a52-3c8e-4c1e-9d6a-0b2f1f7e8a11", "generation": 3,
      "labels": {"catalyst.dev/team": "my-team", "catalyst.dev/project": "my-project",
                 "catalyst.dev/environment": "pr-123"}},
    "spec": {"type": ")", development ? "development" : "deployment", R"(",
      "sources": [{"name": "web", "repositoryUrl": "https://github.com/org/repo",
                   "branch": "feature/login", "commitSha": "a1b2c3d", "prNumber": 123}],
      "config": {)", development ? "" : R"("image": "ghcr.io/org/app:sha", )",
      R"("envVars": [{"name": "DEBUG", "value": "true"}]}}})"));
  absl::StatusOr<v1alpha1::EnvironmentSpec> env = v1alpha1::ParseEnvironment(*obj);
  EXPECT_TRUE(env.ok()) << env.status();
  return *env;
}

Desired ServerFixture(const v1alpha1::EnvironmentSpec& env, absl::string_view ns) {
  absl::StatusOr<Desired> d = Resolve({env, std::string(ns), nullptr, OperatorConfig{}});
  EXPECT_TRUE(d.ok()) << d.status();
  return *d;
}

constexpr char kServerNs[] = "my-team-my-project-pr-123";

struct ServerCase {
  kube::Object desired;
  const char* server;
};

std::vector<ServerCase> ServerCases() {
  OperatorConfig cfg;
  const Desired dev = ServerFixture(ServerSpec(true), kServerNs);
  std::vector<kube::Object> policies = BuildNetworkPolicies(dev, cfg);
  auto claim = [&](absl::string_view name) {
    for (const ClaimObject& c : dev.claims)
      if (c.name == name) return BuildClaim(dev, c, cfg);
    return kube::Object();
  };
  const Desired deployment = ServerFixture(ServerSpec(false), "deploy-ns");
  return {
      {BuildNamespace(dev), kServerNamespace},
      {BuildResourceQuota(dev), kServerResourceQuotaEnvironmentQuota},
      {policies[0], kServerNetworkPolicyDefaultDenyAll},
      {policies[1], kServerNetworkPolicyAllowIngressController},
      {policies[2], kServerNetworkPolicyAllowSameNamespace},
      {policies[3], kServerNetworkPolicyAllowDnsEgress},
      {policies[4], kServerNetworkPolicyAllowHttpsEgress},
      {claim("postgres-data"), kServerPersistentVolumeClaimPostgresData},
      {BuildDeployment(dev, dev.services.front()), kServerDeploymentPostgres},
      {BuildService(dev, dev.services.front()), kServerServicePostgres},
      {claim("workspace"), kServerPersistentVolumeClaimWorkspace},
      {BuildDeployment(dev, dev.main), kServerDeploymentWeb},
      {BuildService(dev, dev.main), kServerServiceWeb},
      {BuildIngress(dev, cfg), kServerIngressWeb},
      // The deployment-type web Deployment, applied in namespace deploy-ns.
      {BuildDeployment(deployment, deployment.main), kServerDeploymentTypeDeploymentWeb},
  };
}

TEST(SubsetServerTest, BuiltObjectsAreSubsetsOfWhatTheServerStored) {
  for (const ServerCase& c : ServerCases()) {
    SCOPED_TRACE(absl::StrCat(c.desired.Kind(), " ", c.desired.Name()));
    rapidjson::Document server = Doc(c.server);
    EXPECT_EQ(c.desired.Name(), kube::StrOf(kube::Member(server["metadata"], "name")));
    EXPECT_TRUE(kube::IsSubset(c.desired.json(), server));
    // Not the other way round: the server added defaults.
    EXPECT_FALSE(kube::IsSubset(server, c.desired.json()));
  }
}

// An edit of the server's copy that the planner must repair.
bool StillSubsetAfter(const kube::Object& desired, const char* server,
                      const std::function<void(rapidjson::Document&)>& edit) {
  rapidjson::Document d = Doc(server);
  edit(d);
  return kube::IsSubset(desired.json(), d);
}

void Set(rapidjson::Document& d, const char* pointer, const char* value) {
  rapidjson::Value* v = rapidjson::Pointer(pointer).Get(d);
  ASSERT_NE(v, nullptr) << pointer;
  v->SetString(value, d.GetAllocator());
}

void EraseAt(rapidjson::Document& d, const char* array_pointer, rapidjson::SizeType i) {
  rapidjson::Value* v = rapidjson::Pointer(array_pointer).Get(d);
  ASSERT_TRUE(v && v->IsArray() && i < v->Size()) << array_pointer;
  v->Erase(v->Begin() + i);
}

TEST(SubsetServerTest, DriftIsSeen) {
  std::vector<ServerCase> cases = ServerCases();
  auto find = [&](const char* server) -> const kube::Object& {
    for (const ServerCase& c : cases)
      if (c.server == server) return c.desired;
    ADD_FAILURE() << "no case";
    return cases[0].desired;
  };
  const kube::Object& web = find(kServerDeploymentWeb);
  const kube::Object& postgres = find(kServerDeploymentPostgres);

  // The web memory limit lowered (the OOMKilled setting of operator-AGENTS.md).
  EXPECT_FALSE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    Set(d, "/spec/template/spec/containers/0/resources/limits/memory", "1Gi");
  }));
  // An init container removed.
  EXPECT_FALSE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    EraseAt(d, "/spec/template/spec/initContainers", 2);
  }));
  // The image replaced, the command edited.
  EXPECT_FALSE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    Set(d, "/spec/template/spec/containers/0/image", "node:18");
  }));
  EXPECT_FALSE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    Set(d, "/spec/template/spec/containers/0/command/3", "--turbo");
  }));
  // An env var added by another manager (kubectl set env) is not drift: an
  // apply would not remove it, and seeing it would re-apply every pass.
  EXPECT_TRUE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    rapidjson::Value* env = rapidjson::Pointer("/spec/template/spec/containers/0/env").Get(d);
    rapidjson::Value extra(rapidjson::kObjectType);
    extra.AddMember("name", "X", d.GetAllocator());
    env->PushBack(extra, d.GetAllocator());
  }));
  // One of ours removed is.
  EXPECT_FALSE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    EraseAt(d, "/spec/template/spec/containers/0/env", 0);
  }));
  // Scaled down.
  EXPECT_FALSE(StillSubsetAfter(postgres, kServerDeploymentPostgres, [](auto& d) {
    rapidjson::Pointer("/spec/replicas").Get(d)->SetInt(0);
  }));
  EXPECT_FALSE(StillSubsetAfter(postgres, kServerDeploymentPostgres, [](auto& d) {
    Set(d, "/spec/template/spec/containers/0/resources/limits/memory", "256Mi");
  }));
  // A NetworkPolicy rule removed or weakened.
  EXPECT_FALSE(StillSubsetAfter(find(kServerNetworkPolicyAllowDnsEgress),
                                kServerNetworkPolicyAllowDnsEgress,
                                [](auto& d) { EraseAt(d, "/spec/egress/0/ports", 0); }));
  EXPECT_FALSE(StillSubsetAfter(find(kServerNetworkPolicyDefaultDenyAll),
                                kServerNetworkPolicyDefaultDenyAll,
                                [](auto& d) { EraseAt(d, "/spec/policyTypes", 1); }));
  EXPECT_FALSE(StillSubsetAfter(find(kServerNetworkPolicyAllowSameNamespace),
                                kServerNetworkPolicyAllowSameNamespace,
                                [](auto& d) { d["spec"].RemoveMember("egress"); }));
  // Metadata: a label the informers filter on, the annotation they map back with.
  EXPECT_FALSE(StillSubsetAfter(find(kServerNamespace), kServerNamespace, [](auto& d) {
    d["metadata"]["labels"].RemoveMember("app.kubernetes.io/managed-by");
  }));
  EXPECT_FALSE(StillSubsetAfter(find(kServerServiceWeb), kServerServiceWeb, [](auto& d) {
    d["metadata"]["annotations"].RemoveMember("catalyst.dev/environment");
  }));
  // Other specs.
  EXPECT_FALSE(StillSubsetAfter(find(kServerResourceQuotaEnvironmentQuota),
                                kServerResourceQuotaEnvironmentQuota,
                                [](auto& d) { Set(d, "/spec/hard/requests.memory", "16Gi"); }));
  EXPECT_FALSE(StillSubsetAfter(find(kServerServiceWeb), kServerServiceWeb, [](auto& d) {
    rapidjson::Pointer("/spec/ports/0/targetPort").Get(d)->SetInt(8080);
  }));
  EXPECT_FALSE(StillSubsetAfter(find(kServerIngressWeb), kServerIngressWeb, [](auto& d) {
    Set(d, "/spec/rules/0/host", "elsewhere.example.test");
  }));
  // What the server and its controllers change is not drift.
  EXPECT_TRUE(StillSubsetAfter(web, kServerDeploymentWeb, [](auto& d) {
    rapidjson::Pointer("/status/readyReplicas").Set(d, 1);
    Set(d, "/metadata/resourceVersion", "999");
    rapidjson::Pointer("/metadata/annotations/deployment.kubernetes.io~1revision").Set(d, "7");
  }));
}

// PRODUCT.md "Rules": a spec change rolls out — the new manifest is not a
// subset of the old object; a change that does not touch the web pod is.
TEST(SubsetServerTest, SpecChangesAreSeen) {
  v1alpha1::EnvironmentSpec env = ServerSpec(true);
  env.sources[0].commit_sha = "b2c3d4e";
  Desired d = ServerFixture(env, kServerNs);
  EXPECT_FALSE(kube::IsSubset(BuildDeployment(d, d.main).json(), Doc(kServerDeploymentWeb)));
  env = ServerSpec(true);
  env.sources[0].pr_number = 124;
  env.generation = 4;
  d = ServerFixture(env, kServerNs);
  EXPECT_TRUE(kube::IsSubset(BuildDeployment(d, d.main).json(), Doc(kServerDeploymentWeb)));
  // The image is the deployment type's whole rollout.
  env = ServerSpec(false);
  env.config.container.image = "ghcr.io/org/app:sha2";
  d = ServerFixture(env, "deploy-ns");
  EXPECT_FALSE(kube::IsSubset(BuildDeployment(d, d.main).json(), Doc(kServerDeploymentTypeDeploymentWeb)));
}

}  // namespace
}  // namespace controllers

// Step 4-6 objects of an Environment (docs/contract.md, "Reconciliation"): volumes,
// workloads (postgres and the other services, web or workspace), their
// Services and the Ingress.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "controllers/environment/manifests.h"
#include "controllers/environment/manifests_common.h"
#include "controllers/environment/naming.h"
#include "kube/json_builder.h"

namespace controllers {
namespace {

namespace r = kube::resources;
using internal::Annotations;
using internal::Labels;
using internal::Manifest;
using internal::Metadata;
using kube::J;
using v1alpha1::Container;

J ResourceList(const v1alpha1::ResourceList& l) {
  J out = J::Obj({});
  for (const auto& [name, q] : l) out.Set(name, q);
  return out;
}

J EnvList(const std::vector<v1alpha1::EnvVar>& env) {
  J list = J::Arr({});
  for (const v1alpha1::EnvVar& e : env)
    list.Push(e.value_from ? J::Obj({{"name", e.name}, {"valueFrom", e.value_from}})
                           : J::Obj({{"name", e.name}, {"value", e.value}}));
  return list;
}

// A container in the order of its fields in the Kubernetes API. Its failure
// reason carries its log tail (FallbackToLogsOnError: the last lines of git,
// npm or the server), so the Failed condition can quote the cause.
// confined: no capabilities, no privilege escalation (every container but
// the builder, which runs buildah as root: docs/contract.md, "Image builds").
J RenderContainer(const Container& c, bool confined = true) {
  J out = J::Obj({{"name", c.name}, {"image", c.image}});
  if (!c.command.empty()) out.Set("command", J::Strings(c.command));
  if (!c.args.empty()) out.Set("args", J::Strings(c.args));
  if (!c.working_dir.empty()) out.Set("workingDir", c.working_dir);
  if (!c.ports.empty()) {
    J ports = J::Arr({});
    for (const auto& p : c.ports) {
      J port = J::Obj({});
      if (!p.name.empty()) port.Set("name", p.name);
      // protocol is stated: server-side apply keys ports by (containerPort, protocol).
      port.Set("containerPort", p.container_port)
          .Set("protocol", p.protocol.empty() ? "TCP" : p.protocol);
      ports.Push(std::move(port));
    }
    out.Set("ports", std::move(ports));
  }
  if (!c.env.empty()) out.Set("env", EnvList(c.env));
  if (c.resources)
    out.Set("resources", J::Obj({{"requests", ResourceList(c.resources->requests)},
                                 {"limits", ResourceList(c.resources->limits)}}));
  if (c.liveness_probe) out.Set("livenessProbe", c.liveness_probe);
  if (c.readiness_probe) out.Set("readinessProbe", c.readiness_probe);
  if (c.startup_probe) out.Set("startupProbe", c.startup_probe);
  if (!c.volume_mounts.empty()) {
    J mounts = J::Arr({});
    for (const kube::Object& m : c.volume_mounts) mounts.Push(m);
    out.Set("volumeMounts", std::move(mounts));
  }
  out.Set("terminationMessagePolicy", "FallbackToLogsOnError");
  if (!confined) return out;
  // docs/contract.md "Tenant isolation": no capabilities (NET_RAW, CHOWN...),
  // no setuid escalation; the namespace enforces Pod Security baseline.
  out.Set("securityContext", J::Obj({{"allowPrivilegeEscalation", false},
                                     {"capabilities", J::Obj({{"drop", J::Arr({"ALL"})}})}}));
  return out;
}

J RenderVolumes(const std::vector<PodVolume>& list) {
  J volumes = J::Arr({});
  for (const PodVolume& v : list)
    if (v.service_account_token)
      volumes.Push(J::Obj(
          {{"name", v.name},
           {"projected",
            J::Obj({{"sources", J::Arr({J::Obj({{"serviceAccountToken",
                                                 J::Obj({{"expirationSeconds", kGitTokenSeconds},
                                                         {"path", "token"}})}})})}})}}));
    else if (!v.claim.empty())
      volumes.Push(
          J::Obj({{"name", v.name}, {"persistentVolumeClaim", J::Obj({{"claimName", v.claim}})}}));
    else if (!v.size_limit.empty())
      volumes.Push(J::Obj({{"name", v.name}, {"emptyDir", J::Obj({{"sizeLimit", v.size_limit}})}}));
    else
      volumes.Push(J::Obj({{"name", v.name}, {"emptyDir", J::Obj({})}}));
  return volumes;
}

}  // namespace

kube::Object BuildClaim(const Desired& d, const ClaimObject& c, const OperatorConfig& cfg) {
  J modes =
      c.claim.access_modes.empty() ? J::Arr({"ReadWriteOnce"}) : J::Strings(c.claim.access_modes);
  J spec = J::Obj({{"accessModes", std::move(modes)},
                   {"resources", J::Obj({{"requests", J::Obj({{"storage", c.claim.storage}})}})}});
  // Left out, the DefaultStorageClass admission plugin fills it in.
  const std::string& sc = c.claim.storage_class.empty() ? cfg.storage_class : c.claim.storage_class;
  if (!sc.empty()) spec.Set("storageClassName", sc);
  return Manifest("v1", "PersistentVolumeClaim", Metadata(d, c.name, c.app), std::move(spec))
      .ToObject();
}

// One replica; Recreate because the pod mounts ReadWriteOnce volumes, which
// a second pod on another node could not attach during a rolling update.
// (Switching an existing Deployment from RollingUpdate to Recreate by apply
// is refused: the defaulted rollingUpdate block stays behind; so every
// workload uses Recreate from the start.)
kube::Object BuildDeployment(const Desired& d, const Workload& w) {
  J init = J::Arr({});
  for (const Container& c : w.init_containers) init.Push(RenderContainer(c));
  J pod = J::Obj({{"automountServiceAccountToken", false}, {"enableServiceLinks", false}});
  J security = J::Obj({{"seccompProfile", J::Obj({{"type", "RuntimeDefault"}})}});
  if (w.run_as_user != 0)
    security.Set("runAsNonRoot", true)
        .Set("runAsUser", w.run_as_user)
        .Set("runAsGroup", w.run_as_user)
        .Set("fsGroup", w.run_as_user);
  pod.Set("securityContext", std::move(security));
  if (!w.init_containers.empty()) pod.Set("initContainers", std::move(init));
  // The team's secrets (docs/contract.md): the main container only; optional,
  // so a Secret pruned before the pod rolls does not stop it starting.
  const bool secrets = &w == &d.main && !d.team_secrets_hash.empty();
  J main = RenderContainer(w.container);
  if (secrets)
    main.Set(
        "envFrom",
        J::Arr({J::Obj({{"secretRef", J::Obj({{"name", kTeamSecretName}, {"optional", true}})}})}));
  pod.Set("containers", J::Arr({std::move(main)}));
  if (!w.volumes.empty()) pod.Set("volumes", RenderVolumes(w.volumes));
  if (d.pull_secret) pod.Set("imagePullSecrets", J::Arr({J::Obj({{"name", kRegistrySecretName}})}));
  J annotations = Annotations(d);
  if (secrets) annotations.Set(kTeamSecretHashAnnotation, d.team_secrets_hash);
  J tmpl =
      J::Obj({{"metadata",
               J::Obj({{"labels", Labels(d, w.name)}, {"annotations", std::move(annotations)}})},
              {"spec", std::move(pod)}});
  return Manifest(
             "apps/v1", "Deployment", Metadata(d, w.name, w.name),
             J::Obj({{"replicas", 1},
                     {"revisionHistoryLimit", 3},
                     {"selector", J::Obj({{"matchLabels", J::Obj({{kAppNameLabel, w.name}})}})},
                     {"strategy", J::Obj({{"type", "Recreate"}})},
                     {"template", std::move(tmpl)}}))
      .ToObject();
}

kube::Object BuildService(const Desired& d, const Workload& w) {
  J ports = J::Arr({});
  // protocol is stated: server-side apply keys ports by (port, protocol).
  for (const ServicePort& p : w.service_ports) {
    J port = J::Obj({});
    if (!p.name.empty()) port.Set("name", p.name);
    port.Set("port", p.port).Set("targetPort", p.target).Set("protocol", p.protocol);
    ports.Push(std::move(port));
  }
  return Manifest("v1", "Service", Metadata(d, w.name, w.name),
                  J::Obj({{"type", "ClusterIP"},
                          {"selector", J::Obj({{kAppNameLabel, w.name}})},
                          {"ports", std::move(ports)}}))
      .ToObject();
}

// docs/contract.md, "Reconciliation" 6: the Ingress (networking.k8s.io/v1, GA since 1.19).
kube::Object BuildIngress(const Desired& d, const OperatorConfig& cfg) {
  J backend = J::Obj(
      {{"service", J::Obj({{"name", d.main.name},
                           {"port", J::Obj({{"number", d.main.service_ports.front().port}})}})}});
  J rule =
      J::Obj({{"host", IngressHost(d, cfg)},
              {"http", J::Obj({{"paths", J::Arr({J::Obj({{"path", "/"},
                                                         {"pathType", "Prefix"},
                                                         {"backend", std::move(backend)}})})}})}});
  J spec = J::Obj({});
  // Left out, the cluster's default IngressClass applies.
  if (!cfg.ingress_class.empty()) spec.Set("ingressClassName", cfg.ingress_class);
  spec.Set("rules", J::Arr({std::move(rule)}));
  return Manifest("networking.k8s.io/v1", "Ingress", Metadata(d, d.main.name, d.main.name),
                  std::move(spec))
      .ToObject();
}

// docs/contract.md, "Image builds": one try (backoffLimit 0: a failed build
// is reported, not repeated; a pod the node evicted or preempted does not
// count), bounded by --build-timeout; named after a hash of its spec, so a
// new commit or build setting is a new Job (a Job's pod template cannot
// change) and the old one is pruned.
kube::Object BuildJob(const Desired& d, const ImageBuild& b, const OperatorConfig& cfg) {
  J init = J::Arr({});
  for (const Container& c : b.init_containers) init.Push(RenderContainer(c));
  J volumes = RenderVolumes(b.volumes);
  if (d.pull_secret)
    volumes.Push(
        J::Obj({{"name", "registry-auth"},
                {"secret", J::Obj({{"secretName", kRegistrySecretName},
                                   {"optional", true},
                                   {"items", J::Arr({J::Obj({{"key", ".dockerconfigjson"},
                                                             {"path", "auth.json"}})})}})}}));
  J pod = J::Obj({{"restartPolicy", "Never"},
                  {"automountServiceAccountToken", false},
                  {"enableServiceLinks", false},
                  {"initContainers", std::move(init)},
                  {"containers", J::Arr({RenderContainer(b.builder, /*confined=*/false)})},
                  {"volumes", std::move(volumes)}});
  if (d.pull_secret) pod.Set("imagePullSecrets", J::Arr({J::Obj({{"name", kRegistrySecretName}})}));
  J labels = Labels(d, kBuildAppName);
  labels.Set(kBuildLabel, b.name);
  J spec =
      J::Obj({{"backoffLimit", 0},
              {"podFailurePolicy",
               J::Obj({{"rules",
                        J::Arr({J::Obj({{"action", "Ignore"},
                                        {"onPodConditions",
                                         J::Arr({J::Obj({{"type", "DisruptionTarget"}})})}})})}})},
              {"activeDeadlineSeconds", absl::ToInt64Seconds(cfg.build_timeout)},
              {"template",
               J::Obj({{"metadata", J::Obj({{"labels", labels}, {"annotations", Annotations(d)}})},
                       {"spec", std::move(pod)}})}});
  const std::string hash = HexSha256(spec.Serialize(), 8);
  J meta = J::Obj({{"name", absl::StrCat("build-", b.name.substr(0, 40), "-", hash)},
                   {"namespace", d.ns},
                   {"labels", labels},
                   {"annotations", Annotations(d)}});
  return Manifest("batch/v1", "Job", std::move(meta), std::move(spec)).ToObject();
}

std::vector<Built> BuildAll(const Desired& d, const OperatorConfig& cfg,
                            const kube::Object& registry_source) {
  std::vector<Built> out;
  out.push_back({&r::kNamespaces, BuildNamespace(d)});
  out.push_back({&r::kResourceQuotas, BuildResourceQuota(d)});
  for (kube::Object& np : BuildNetworkPolicies(d, cfg)) out.push_back({&r::kNetworkPolicies, np});
  if (registry_source) out.push_back({&r::kSecrets, BuildRegistrySecret(d, registry_source)});
  if (d.team_secrets) out.push_back({&r::kSecrets, BuildTeamSecret(d)});
  for (const ClaimObject& c : d.claims)
    out.push_back({&r::kPersistentVolumeClaims, BuildClaim(d, c, cfg)});
  for (const Workload& w : d.services) {
    out.push_back({&r::kDeployments, BuildDeployment(d, w)});
    if (!w.service_ports.empty()) out.push_back({&r::kServices, BuildService(d, w)});
  }
  for (const ImageBuild& b : d.builds)
    if (!b.recorded) out.push_back({&r::kJobs, BuildJob(d, b, cfg)});
  if (d.chart) return out;  // helm mode: the chart brings the workloads
  out.push_back({&r::kDeployments, BuildDeployment(d, d.main)});
  if (d.http) {
    out.push_back({&r::kServices, BuildService(d, d.main)});
    out.push_back({&r::kIngresses, BuildIngress(d, cfg)});
  }
  return out;
}

std::string IngressHost(const Desired& d, const OperatorConfig& cfg) {
  return absl::StrReplaceAll(cfg.url_host_template,
                             {{"{name}", d.env.name}, {"{namespace}", d.ns}});
}

std::string EnvironmentUrl(const Desired& d, const OperatorConfig& cfg) {
  if (!d.http) return "";
  return absl::StrCat(cfg.url_scheme, "://", IngressHost(d, cfg));
}

}  // namespace controllers

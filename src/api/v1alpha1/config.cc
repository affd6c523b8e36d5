#include "api/v1alpha1/config.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/v1alpha1/bounds.h"
#include "kube/quantity.h"

namespace v1alpha1 {
namespace {

namespace b = bounds;
using rapidjson::SizeType;
using rapidjson::Value;

const Value* M(const Value* obj, absl::string_view key) {
  return obj ? kube::Member(*obj, key) : nullptr;
}

ResourceList ParseResourceList(const Value* v, absl::string_view path, Problems& p) {
  ResourceList out;
  const Value* o = p.Map(v, path, b::kResourceProperties);
  if (!o) return out;
  for (const auto& m : o->GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    if (CharLength(name) > b::kName) {
      p.Add(absl::StrCat(path, " has a resource name of ", CharLength(name),
                         " characters; at most ", b::kName));
      continue;
    }
    std::string q = ParseQuantity(&m.value, absl::StrCat(path, ".", name), p);
    if (!q.empty()) out.emplace_back(std::move(name), std::move(q));
  }
  return out;
}

std::optional<Resources> ParseResources(const Value* v, absl::string_view path, Problems& p) {
  const Value* o = p.Obj(v, path);
  if (!o) return std::nullopt;
  return Resources{ParseResourceList(M(o, "requests"), absl::StrCat(path, ".requests"), p),
                   ParseResourceList(M(o, "limits"), absl::StrCat(path, ".limits"), p)};
}

std::optional<Claim> ParseClaim(const Value* v, absl::string_view path, Problems& p) {
  const Value* o = p.Obj(v, path);
  if (!o) return std::nullopt;
  Claim c;
  c.access_modes = p.Strs(M(o, "accessModes"), absl::StrCat(path, ".accessModes"),
                          b::kAccessModeItems, b::kName);
  for (const std::string& m : c.access_modes)
    if (m != "ReadWriteOnce" && m != "ReadOnlyMany" && m != "ReadWriteMany" &&
        m != "ReadWriteOncePod")
      p.Add(absl::StrCat(path, ".accessModes \"", m,
                         "\" is not one of ReadWriteOnce, ReadOnlyMany, ReadWriteMany, "
                         "ReadWriteOncePod"));
  const std::string at = absl::StrCat(path, ".resources.requests.storage");
  c.storage = ParseQuantity(
      M(M(p.Obj(M(o, "resources"), absl::StrCat(path, ".resources")), "requests"), "storage"), at,
      p);
  if (c.storage.empty()) p.Add(absl::StrCat(at, " is required"));
  c.storage_class =
      p.Str(M(o, "storageClassName"), absl::StrCat(path, ".storageClassName"), b::kName);
  return c;
}

// A probe: kept as given for the container, after the checks the CRD makes
// (gen-crds.py, probe()). The CRD prunes what it does not declare.
kube::Object ParseProbe(const Value* v, absl::string_view path, Problems& p) {
  const Value* o = p.Obj(v, path);
  if (!o) return kube::Object();
  // A probe's host is never passed on: the kubelet connects to it from the
  // node's network, outside every NetworkPolicy of the environment (the cloud
  // metadata address, the node's own ports); a probe checks the pod's IP.
  auto no_host = [&](const Value* check, const std::string& at) {
    // (A null is no value: the server drops it, as Str reads it.)
    if (const Value* host = M(check, "host"); host && !host->IsNull())
      p.Add(absl::StrCat(at,
                         ".host must not be set: the kubelet would connect to it from the "
                         "node's network, outside the environment's NetworkPolicies"));
  };
  auto port = [&](const Value* check, const std::string& at) {
    if (const Value* port = M(check, "port"); port && port->IsString())
      p.Str(port, at + ".port", b::kPortName);
  };
  if (const Value* get = p.Obj(M(o, "httpGet"), absl::StrCat(path, ".httpGet"))) {
    const std::string at = absl::StrCat(path, ".httpGet");
    no_host(get, at);
    port(get, at);
    p.Str(M(get, "path"), at + ".path", b::kPath);
    p.ForEachObject(M(get, "httpHeaders"), at + ".httpHeaders", b::kHeaderItems,
                    [&](const Value& h, const std::string& hat) {
                      p.Str(M(&h, "name"), hat + ".name", b::kHeaderName);
                      p.Str(M(&h, "value"), hat + ".value", b::kHeaderValue);
                    });
  }
  if (const Value* tcp = p.Obj(M(o, "tcpSocket"), absl::StrCat(path, ".tcpSocket"))) {
    no_host(tcp, absl::StrCat(path, ".tcpSocket"));
    port(tcp, absl::StrCat(path, ".tcpSocket"));
  }
  if (const Value* exec = p.Obj(M(o, "exec"), absl::StrCat(path, ".exec")))
    p.Strs(M(exec, "command"), absl::StrCat(path, ".exec.command"), b::kArgItems, b::kValue);
  if (const Value* grpc = p.Obj(M(o, "grpc"), absl::StrCat(path, ".grpc")))
    p.Str(M(grpc, "service"), absl::StrCat(path, ".grpc.service"), b::kName);
  return kube::Object::Copy(*o);
}

// valueFrom: kept as given, after the CRD's checks. A Secret of the
// environment namespace other than kReadableSecrets is the operator's
// (registry-credentials): a tenant's env must not read it.
kube::Object ParseValueFrom(const Value* v, absl::string_view path, Problems& p) {
  const Value* o = p.Obj(v, path);
  if (!o) return kube::Object();
  auto key_ref = [&](absl::string_view field) -> std::string {
    const std::string at = absl::StrCat(path, ".", field);
    const Value* ref = p.Obj(M(o, field), at);
    if (!ref) return "";
    p.Str(M(ref, "key"), at + ".key", b::kName);
    const std::string name = p.Str(M(ref, "name"), at + ".name", b::kName);
    if (name.empty()) p.Add(at + ".name is required");
    return name;
  };
  const std::string secret = key_ref("secretKeyRef");
  if (!secret.empty() && std::find(std::begin(kReadableSecrets), std::end(kReadableSecrets),
                                   secret) == std::end(kReadableSecrets))
    p.Add(absl::StrCat(path, ".secretKeyRef.name: Secret \"", secret,
                       "\" is not the tenant's: only ", absl::StrJoin(kReadableSecrets, " or "),
                       " may be read (the namespace's other Secrets are the operator's)"));
  key_ref("configMapKeyRef");
  if (const Value* f = p.Obj(M(o, "fieldRef"), absl::StrCat(path, ".fieldRef"))) {
    p.Str(M(f, "fieldPath"), absl::StrCat(path, ".fieldRef.fieldPath"), b::kFieldPath);
    p.Str(M(f, "apiVersion"), absl::StrCat(path, ".fieldRef.apiVersion"), b::kFieldPath);
  }
  if (const Value* r = p.Obj(M(o, "resourceFieldRef"), absl::StrCat(path, ".resourceFieldRef"))) {
    p.Str(M(r, "containerName"), absl::StrCat(path, ".resourceFieldRef.containerName"), b::kLabel);
    p.Str(M(r, "resource"), absl::StrCat(path, ".resourceFieldRef.resource"), b::kName);
    ParseQuantity(M(r, "divisor"), absl::StrCat(path, ".resourceFieldRef.divisor"), p);
  }
  return kube::Object::Copy(*o);
}

std::vector<EnvVar> ParseEnv(const Value* v, absl::string_view path, Problems& p) {
  std::vector<EnvVar> out;
  absl::flat_hash_set<std::string> seen;
  p.ForEachObject(v, path, b::kEnvItems, [&](const Value& item, const std::string& at) {
    EnvVar e;
    e.name = p.Str(M(&item, "name"), at + ".name", b::kName);
    e.value = p.Str(M(&item, "value"), at + ".value", b::kValue);
    e.value_from = ParseValueFrom(M(&item, "valueFrom"), at + ".valueFrom", p);
    if (!ValidEnvName(e.name))
      return p.Add(absl::StrCat(at, ".name \"", e.name,
                                "\" must start with a letter or '_' and contain only letters, "
                                "digits, '_', '.' and '-'"));
    // Server-side apply keys container env by name: a duplicate fails every apply.
    if (!seen.insert(e.name).second)
      return p.Add(absl::StrCat(at, ".name \"", e.name, "\" is listed more than once"));
    out.push_back(std::move(e));
  });
  return out;
}

std::vector<ContainerPort> ParsePorts(const Value* v, absl::string_view path, Problems& p) {
  std::vector<ContainerPort> out;
  absl::flat_hash_set<std::string> seen;
  p.ForEachObject(v, path, b::kPortItems, [&](const Value& item, const std::string& at) {
    ContainerPort port;
    port.container_port = p.Int(M(&item, "containerPort"), at + ".containerPort").value_or(0);
    port.name = p.Str(M(&item, "name"), at + ".name", b::kPortName);
    port.protocol = p.Str(M(&item, "protocol"), at + ".protocol", b::kLabel);
    if (port.container_port < 1 || port.container_port > 65535)
      return p.Add(absl::StrCat(at, ".containerPort must be 1 to 65535"));
    if (!port.protocol.empty() && port.protocol != "TCP" && port.protocol != "UDP" &&
        port.protocol != "SCTP")
      p.Add(absl::StrCat(at, ".protocol \"", port.protocol, "\" is not one of TCP, UDP, SCTP"));
    // Keyed by (containerPort, protocol) in server-side apply.
    const std::string key =
        absl::StrCat(port.container_port, "/", port.protocol.empty() ? "TCP" : port.protocol);
    if (!seen.insert(key).second)
      p.Add(absl::StrCat(at, ".containerPort ", port.container_port, " is listed more than once"));
    out.push_back(std::move(port));
  });
  return out;
}

std::vector<kube::Object> ParseMounts(const Value* v, absl::string_view path, Problems& p) {
  std::vector<kube::Object> out;
  absl::flat_hash_set<std::string> seen;
  p.ForEachObject(v, path, b::kMountItems, [&](const Value& item, const std::string& at) {
    const std::string name = p.Str(M(&item, "name"), at + ".name", b::kLabel);
    const std::string mount = p.Str(M(&item, "mountPath"), at + ".mountPath", b::kPath);
    p.Str(M(&item, "subPath"), at + ".subPath", b::kPath);
    if (name.empty()) p.Add(absl::StrCat(at, ".name is required"));
    if (!absl::StartsWith(mount, "/"))
      p.Add(absl::StrCat(at, ".mountPath \"", mount, "\" must be an absolute path"));
    else if (!seen.insert(mount).second)
      p.Add(absl::StrCat(at, ".mountPath \"", mount, "\" is listed more than once"));
    out.push_back(kube::Object::Copy(item));
  });
  return out;
}

Container ParseContainer(const Value* o, absl::string_view path, Problems& p) {
  Container c;
  c.image = p.Str(M(o, "image"), absl::StrCat(path, ".image"), b::kImage);
  if (HasSpaceOrControl(c.image))
    p.Add(absl::StrCat(path, ".image \"", c.image, "\" must not contain spaces"));
  c.command = p.Strs(M(o, "command"), absl::StrCat(path, ".command"), b::kArgItems, b::kValue);
  c.args = p.Strs(M(o, "args"), absl::StrCat(path, ".args"), b::kArgItems, b::kValue);
  c.working_dir = p.Str(M(o, "workingDir"), absl::StrCat(path, ".workingDir"), b::kPath);
  if (!c.working_dir.empty() && !absl::StartsWith(c.working_dir, "/"))
    p.Add(absl::StrCat(path, ".workingDir \"", c.working_dir, "\" must be an absolute path"));
  c.ports = ParsePorts(M(o, "ports"), absl::StrCat(path, ".ports"), p);
  c.env = ParseEnv(M(o, "env"), absl::StrCat(path, ".env"), p);
  c.resources = ParseResources(M(o, "resources"), absl::StrCat(path, ".resources"), p);
  c.liveness_probe = ParseProbe(M(o, "livenessProbe"), absl::StrCat(path, ".livenessProbe"), p);
  c.readiness_probe = ParseProbe(M(o, "readinessProbe"), absl::StrCat(path, ".readinessProbe"), p);
  c.startup_probe = ParseProbe(M(o, "startupProbe"), absl::StrCat(path, ".startupProbe"), p);
  c.volume_mounts = ParseMounts(M(o, "volumeMounts"), absl::StrCat(path, ".volumeMounts"), p);
  return c;
}

// A list of named items, each parsed by parse; names must be unique DNS labels.
template <typename T, typename Parse>
std::optional<std::vector<T>> ParseNamed(const Value* v, absl::string_view path, size_t max_items,
                                         Problems& p, Parse parse) {
  if (!p.Arr(v, path, max_items)) return std::nullopt;
  std::vector<T> out;
  absl::flat_hash_set<std::string> seen;
  p.ForEachObject(v, path, max_items, [&](const Value& item, const std::string& at) {
    const std::string name = p.Str(M(&item, "name"), at + ".name", b::kLabel);
    if (!ValidDnsLabel(name))
      return p.Add(absl::StrCat(at, ".name \"", name,
                                "\" must be a lowercase DNS label (a-z, 0-9, '-', at most 63)"));
    if (!seen.insert(name).second)
      return p.Add(absl::StrCat(at, ".name \"", name, "\" is listed more than once"));
    T t = parse(&item, at);
    t.name = name;
    out.push_back(std::move(t));
  });
  return out;
}

bool NonEmpty(const auto& opt) { return opt && !opt->empty(); }

}  // namespace

// A quantity given as a string or a number (int-or-string), canonical.
std::string ParseQuantity(const Value* v, absl::string_view path, Problems& p) {
  std::string q;
  if (v && v->IsNumber()) {
    q = v->IsInt64() ? absl::StrCat(v->GetInt64()) : absl::StrCat(v->GetDouble());
  } else {
    q = p.Str(v, path, b::kQuantity);
  }
  if (q.empty()) return q;
  absl::StatusOr<std::string> c = kube::CanonicalQuantity(q);
  if (!c.ok()) {
    p.Add(absl::StrCat(path, " \"", q, "\" is not a quantity (e.g. 500m, 2, 512Mi, 2Gi)"));
    return "";
  }
  return *c;
}

bool ValidEnvName(absl::string_view n) {
  if (n.empty() || !(absl::ascii_isalpha(n[0]) || n[0] == '_')) return false;
  for (char c : n)
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

bool ValidDnsLabel(absl::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'z') || c == '-';
  });
}

Config ParseConfig(const Value* v, absl::string_view path, Problems& p) {
  Config c;
  const Value* o = p.Obj(v, path);
  if (!o) return c;
  c.container = ParseContainer(o, path, p);
  // Legacy envVars ({name, value}) mean env; env wins for a name in both.
  std::vector<EnvVar> legacy = ParseEnv(M(o, "envVars"), absl::StrCat(path, ".envVars"), p);
  c.container.env = MergeEnv(legacy, c.container.env);
  c.init_containers = ParseNamed<Container>(
      M(o, "initContainers"), absl::StrCat(path, ".initContainers"), b::kInitContainerItems, p,
      [&](const Value* item, const std::string& at) { return ParseContainer(item, at, p); });
  c.services = ParseNamed<ManagedService>(
      M(o, "services"), absl::StrCat(path, ".services"), b::kServiceItems, p,
      [&](const Value* item, const std::string& at) {
        ManagedService s;
        const Value* container = p.Obj(M(item, "container"), at + ".container");
        if (!container)
          p.Add(absl::StrCat(at, ".container is required"));
        else
          s.container = ParseContainer(container, at + ".container", p);
        if (container && s.container.image.empty())
          p.Add(absl::StrCat(at, ".container.image is required"));
        s.storage = ParseClaim(M(item, "storage"), at + ".storage", p);
        s.database = p.Str(M(item, "database"), at + ".database", b::kLabel);
        return s;
      });
  c.volumes = ParseNamed<Volume>(M(o, "volumes"), absl::StrCat(path, ".volumes"), b::kVolumeItems,
                                 p, [&](const Value* item, const std::string& at) {
                                   Volume vol;
                                   vol.claim = ParseClaim(M(item, "persistentVolumeClaim"),
                                                          at + ".persistentVolumeClaim", p);
                                   return vol;
                                 });
  return c;
}

std::vector<EnvVar> MergeEnv(const std::vector<EnvVar>& base, const std::vector<EnvVar>& over) {
  std::vector<EnvVar> out = base;
  for (const EnvVar& e : over) {
    auto it =
        std::find_if(out.begin(), out.end(), [&](const EnvVar& b) { return b.name == e.name; });
    if (it != out.end())
      *it = e;
    else
      out.push_back(e);
  }
  return out;
}

Config MergeConfig(const Config& base, const Config& over) {
  Config out = base;
  Container& c = out.container;
  const Container& o = over.container;
  if (!o.image.empty()) c.image = o.image;
  if (!o.command.empty()) c.command = o.command;
  if (!o.args.empty()) c.args = o.args;
  if (!o.working_dir.empty()) c.working_dir = o.working_dir;
  if (!o.ports.empty()) c.ports = o.ports;
  c.env = MergeEnv(c.env, o.env);
  if (o.resources) c.resources = o.resources;
  if (o.liveness_probe) c.liveness_probe = o.liveness_probe;
  if (o.readiness_probe) c.readiness_probe = o.readiness_probe;
  if (o.startup_probe) c.startup_probe = o.startup_probe;
  if (!o.volume_mounts.empty()) c.volume_mounts = o.volume_mounts;
  // Present-but-empty in the Environment keeps the template's; with no
  // template value it stays "none".
  if (NonEmpty(over.init_containers) || !out.init_containers)
    out.init_containers = over.init_containers;
  if (NonEmpty(over.services) || !out.services) out.services = over.services;
  if (NonEmpty(over.volumes) || !out.volumes) out.volumes = over.volumes;
  return out;
}

}  // namespace v1alpha1

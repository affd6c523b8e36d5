// Config: the container configuration an Environment (spec.config) or a
// Project template (spec.templates.<type>.config) gives: the web container,
// the init containers after git-clone, the services (databases) beside it and
// its volumes (docs/contract.md, "spec.config"; the Catalyst web app sends the
// resolved `nextjs` preset). Kubernetes-shaped parts the
// operator passes to the pod unchanged (probes, valueFrom, volume mounts) are
// kept as JSON; quantities are canonical (kube/quantity.h) so a built object
// compares equal to what the server stores.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "api/v1alpha1/problems.h"
#include "kube/object.h"

namespace v1alpha1 {

// The Secrets of an environment namespace a tenant's env may read through
// valueFrom.secretKeyRef: the generated database credentials and the team's
// secrets. Every other Secret there is the operator's (registry-credentials,
// a pull secret the team did not mean to hand to code). The same names as
// controllers/environment/naming.h kDbSecretName and team_secrets.h
// kTeamSecretName (api/ does not include controllers/; api_test.cc holds them
// equal); scripts/gen-crds.py reads this line for the CRDs' rule.
inline constexpr const char* kReadableSecrets[] = {"postgres-credentials", "catalyst-secrets"};

struct EnvVar {
  std::string name;
  std::string value;
  kube::Object value_from;  // valueFrom as sent (secretKeyRef, ...); empty: value is used
};

struct ContainerPort {
  int64_t container_port = 0;
  std::string name;      // optional
  std::string protocol;  // empty: TCP
};

// Resource name -> canonical quantity, in the order given.
using ResourceList = std::vector<std::pair<std::string, std::string>>;
struct Resources {
  ResourceList requests, limits;
};

// A PersistentVolumeClaim spec as the web app sends it (volumes[], services[].storage).
struct Claim {
  std::vector<std::string> access_modes;  // empty: ReadWriteOnce
  std::string storage;                    // resources.requests.storage, canonical
  std::string storage_class;              // storageClassName; empty: the operator's default
};

struct Container {
  std::string name;  // init containers only
  std::string image;
  std::vector<std::string> command, args;
  std::string working_dir;
  std::vector<ContainerPort> ports;
  std::vector<EnvVar> env;
  std::optional<Resources> resources;
  kube::Object liveness_probe, readiness_probe, startup_probe;  // empty: not given
  std::vector<kube::Object> volume_mounts;  // {name, mountPath, subPath?, readOnly?}
};

// services[]: a Deployment, a Service and (with storage) a claim of their own.
struct ManagedService {
  std::string name;
  Container container;
  std::optional<Claim> storage;
  std::string database;  // postgres: the database name (POSTGRES_DB)
};

struct Volume {
  std::string name;
  std::optional<Claim> claim;  // absent: an emptyDir
};

struct Config {
  Container container;  // the main container (its name is the operator's)
  // Absent means "not said" (the deployment mode's defaults apply); present
  // and empty means "none" (docs/contract.md, "spec.config": defaults stay the
  // seed's when the config is silent).
  std::optional<std::vector<Container>> init_containers;
  std::optional<std::vector<ManagedService>> services;
  std::optional<std::vector<Volume>> volumes;
};

// Reads the config object v found at path ("spec.config",
// "spec.templates.development.config"); a null v is an empty Config. Every
// problem is added to p naming its field. The legacy envVars list is read as
// env (env wins for a name in both).
Config ParseConfig(const rapidjson::Value* v, absl::string_view path, Problems& p);

// The Environment's config over a Project template's (docs/contract.md,
// "spec.config": the Environment wins). A field the Environment sets wins whole (a
// non-empty string or list, a given object); "" and [] do not override (the
// Go operator's rule: the web app sends empty values for "unset"); env lists
// merge by name: the template's entries in its order with the Environment's
// values, then the Environment's new names.
Config MergeConfig(const Config& base, const Config& over);

// An env list with `over` merged into `base` by name (MergeConfig's rule).
std::vector<EnvVar> MergeEnv(const std::vector<EnvVar>& base, const std::vector<EnvVar>& over);

// A quantity given as a string or a number (int-or-string), canonical; a
// problem named by path (and "") when it does not parse; "" when absent.
std::string ParseQuantity(const rapidjson::Value* v, absl::string_view path, Problems& p);

// Validation shared with the Environment's own fields.
bool ValidEnvName(absl::string_view n);
bool ValidDnsLabel(absl::string_view s);  // RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63

}  // namespace v1alpha1

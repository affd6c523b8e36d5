#include "kube/kubeconfig.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kube/yaml.h"

namespace kube {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Resolve(absl::string_view dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return absl::StrCat(dir, "/", path);
}

// A PEM from `<field>-data` (base64) or `<field>` (a file path).
absl::StatusOr<std::string> Pem(const YamlNode& node, absl::string_view field,
                                absl::string_view dir) {
  const std::string& data = node[absl::StrCat(field, "-data")].str();
  if (!data.empty()) {
    std::string pem;
    if (!absl::Base64Unescape(data, &pem))
      return absl::InvalidArgumentError(absl::StrCat(field, "-data is not valid base64"));
    return pem;
  }
  const std::string& file = node[field].str();
  if (file.empty()) return std::string();
  auto pem = ReadFile(Resolve(dir, file));
  if (!pem.ok())
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", pem.status().message()));
  return pem;
}

const YamlNode* Named(const YamlNode& list, const std::string& name, absl::string_view what,
                      absl::Status* err) {
  for (const auto& item : list.seq)
    if (item["name"].str() == name) return &item;
  *err = absl::InvalidArgumentError(absl::StrCat("kubeconfig: no ", what, " named '", name, "'"));
  return nullptr;
}

}  // namespace

ConfigSources ConfigSources::FromEnvironment(std::string kubeconfig_flag) {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  ConfigSources s;
  s.kubeconfig_flag = std::move(kubeconfig_flag);
  s.kubeconfig_env = env("KUBECONFIG");
  s.home = env("HOME");
  s.service_host = env("KUBERNETES_SERVICE_HOST");
  s.service_port = env("KUBERNETES_SERVICE_PORT");
  return s;
}

absl::StatusOr<RestConfig> ParseKubeconfig(absl::string_view text, absl::string_view dir,
                                           const util::Clock* clock) {
  auto doc = ParseYaml(text);
  if (!doc.ok())
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig: ", doc.status().message()));
  const std::string& current = (*doc)["current-context"].str();
  if (current.empty()) return absl::InvalidArgumentError("kubeconfig: no current-context");
  absl::Status err;
  const YamlNode* ctx = Named((*doc)["contexts"], current, "context", &err);
  if (!ctx) return err;
  const YamlNode& context = (*ctx)["context"];
  const YamlNode* cl = Named((*doc)["clusters"], context["cluster"].str(), "cluster", &err);
  if (!cl) return err;
  const YamlNode& cluster = (*cl)["cluster"];

  RestConfig c;
  c.server = cluster["server"].str();
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  if (c.server.empty()) return absl::InvalidArgumentError("kubeconfig: cluster has no server");
  if (!context["namespace"].str().empty()) c.default_namespace = context["namespace"].str();
  // Only an explicit true turns verification off.
  c.insecure_skip_tls_verify = cluster["insecure-skip-tls-verify"].str() == "true";
  auto ca = Pem(cluster, "certificate-authority", dir);
  if (!ca.ok()) return ca.status();
  c.ca_pem = std::move(*ca);

  const std::string& user_name = context["user"].str();
  if (!user_name.empty()) {
    const YamlNode* u = Named((*doc)["users"], user_name, "user", &err);
    if (!u) return err;
    const YamlNode& user = (*u)["user"];
    auto cert = Pem(user, "client-certificate", dir);
    if (!cert.ok()) return cert.status();
    auto key = Pem(user, "client-key", dir);
    if (!key.ok()) return key.status();
    if (cert->empty() != key->empty())
      return absl::InvalidArgumentError(
          "kubeconfig: client certificate and key must come together");
    c.client_cert_pem = std::move(*cert);
    c.client_key_pem = std::move(*key);
    if (!user["token"].str().empty()) {
      c.token = std::make_shared<StaticTokenSource>(user["token"].str());
    } else if (!user["tokenFile"].str().empty()) {
      c.token = std::make_shared<FileTokenSource>(Resolve(dir, user["tokenFile"].str()), clock);
    }
    if (!user["exec"].IsNull() || !user["auth-provider"].IsNull())
      return absl::UnimplementedError(absl::StrCat(
          "kubeconfig user '", user_name, "': exec and auth-provider plugins are not supported"));
  }
  return c;
}

absl::StatusOr<RestConfig> InClusterConfig(const ConfigSources& s, const util::Clock* clock) {
  if (s.service_host.empty() || s.service_port.empty())
    return absl::NotFoundError("not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset");
  RestConfig c;
  const bool v6 = s.service_host.find(':') != std::string::npos;
  c.server =
      absl::StrCat("https://", v6 ? "[" : "", s.service_host, v6 ? "]" : "", ":", s.service_port);
  auto ca = ReadFile(absl::StrCat(s.service_account_dir, "/ca.crt"));
  if (!ca.ok()) return ca.status();
  c.ca_pem = std::move(*ca);
  const std::string token_path = absl::StrCat(s.service_account_dir, "/token");
  auto token = std::make_shared<FileTokenSource>(token_path, clock);
  if (auto t = token->Token(); !t.ok()) return t.status();
  c.token = std::move(token);
  if (auto ns = ReadFile(absl::StrCat(s.service_account_dir, "/namespace"));
      ns.ok() && !ns->empty())
    c.default_namespace = std::string(absl::StripAsciiWhitespace(*ns));
  return c;
}

absl::StatusOr<RestConfig> LoadRestConfig(const ConfigSources& s, const util::Clock* clock) {
  auto from_file = [clock](const std::string& path) -> absl::StatusOr<RestConfig> {
    auto text = ReadFile(path);
    if (!text.ok()) return text.status();
    auto c = ParseKubeconfig(*text, std::filesystem::path(path).parent_path().string(), clock);
    if (!c.ok())
      return absl::Status(c.status().code(), absl::StrCat(path, ": ", c.status().message()));
    return c;
  };
  if (!s.kubeconfig_flag.empty()) return from_file(s.kubeconfig_flag);
  if (!s.kubeconfig_env.empty()) {
    std::vector<std::string> paths = absl::StrSplit(s.kubeconfig_env, ':', absl::SkipEmpty());
    if (!paths.empty()) return from_file(paths.front());
  }
  if (!s.service_host.empty()) return InClusterConfig(s, clock);
  if (!s.home.empty()) {
    const std::string path = absl::StrCat(s.home, "/.kube/config");
    if (std::filesystem::exists(path)) return from_file(path);
  }
  return absl::NotFoundError(
      "no API server configured: pass --kubeconfig, set KUBECONFIG, run in a pod, or create "
      "~/.kube/config");
}

}  // namespace kube

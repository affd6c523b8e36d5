#include "kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kube/exec_credential.h"

namespace kube {
namespace {

// The largest kubeconfig read: a guard against a wrong file (a log, a
// binary), not a budget. Real kubeconfigs are a few KiB to a few MiB (a
// thousand clusters with certificates: 5 MiB, 0.4 s). yaml-cpp's scanner holds
// the tokens of a flow collection until it ends, so a file of one-character
// flow items costs ~250 bytes of memory per byte while it is parsed: the
// file is the deployer's, and this bound is not meant to make it harmless.
constexpr size_t kMaxBytes = 16 << 20;
// Key comparisons allowed while decoding one file: aliases let a small file
// name one large mapping many times (a "billion laughs" for CPU). A large real
// kubeconfig (a thousand clusters, users and contexts) needs ~50,000; each
// costs ~0.2 µs (4 µs under ASan): yaml-cpp's iterators copy shared_ptrs.
constexpr int64_t kMaxWork = 200'000;

// What one kubeconfig file says, in the file's own terms (no yaml-cpp types
// past this point). Relative paths are resolved against dir, the directory
// of the file that defined the entry (clientcmd's ResolveLocalPaths).
struct ClusterEntry {
  std::string server, ca_data, ca_file, dir;
  bool insecure = false;
};

struct ExecEntry {
  std::string api_version, command, install_hint, interactive_mode;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  bool provide_cluster_info = false;
};

struct UserEntry {
  std::string token, token_file, cert_data, cert_file, key_data, key_file, dir;
  std::optional<ExecEntry> exec;
  bool auth_provider = false;
};

struct ContextEntry {
  std::string cluster, user, ns;
};

struct Kubeconfig {
  std::string current_context;  // "": this file sets none
  std::map<std::string, ClusterEntry> clusters;
  std::map<std::string, UserEntry> users;
  std::map<std::string, ContextEntry> contexts;
  bool empty = true;  // an empty document (client-go reads it as an empty config)
};

// A kubeconfig or a file it names, up to kMaxBytes (a path such as /dev/zero
// must not exhaust memory).
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, in.gcount());
    if (text.size() > kMaxBytes)
      return absl::InvalidArgumentError(absl::StrCat(path, ": more than ", kMaxBytes, " bytes"));
  }
  if (in.bad()) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return text;
}

std::string Resolve(absl::string_view dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return absl::StrCat(dir, "/", path);
}

// ---- Reading the YAML tree. Everything that touches yaml-cpp is here. ----

absl::Status ErrorAt(const YAML::Node& node, absl::string_view path, absl::string_view what) {
  const std::string where = path.empty() ? std::string(what) : absl::StrCat(path, ": ", what);
  const YAML::Mark m = node.Mark();
  if (m.is_null()) return absl::InvalidArgumentError(where);
  return absl::InvalidArgumentError(
      absl::StrCat(where, " (line ", m.line + 1, ", column ", m.column + 1, ")"));
}

bool Absent(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

// YAML 1.2's true (JSON's too); a quoted "true" is a string.
bool IsTrue(const YAML::Node& n) {
  return n.IsScalar() && n.Tag() == "?" &&
         (n.Scalar() == "true" || n.Scalar() == "True" || n.Scalar() == "TRUE");
}

// Decodes one document into a Kubeconfig, every field type-checked (client-go
// decodes a whole file, too); errors name the field and its line.
class Decoder {
 public:
  explicit Decoder(absl::string_view dir) : dir_(dir) {}

  absl::Status Decode(const YAML::Node& root, Kubeconfig* k) {
    if (Absent(root)) return absl::OkStatus();
    if (!root.IsMap()) return ErrorAt(root, "", "expected a mapping at the top");
    k->empty = false;
    if (absl::Status s = Str(root, "current-context", "", &k->current_context); !s.ok()) return s;
    if (absl::Status s = NamedList(root, "clusters", "cluster", &k->clusters, &Decoder::Cluster);
        !s.ok())
      return s;
    if (absl::Status s = NamedList(root, "users", "user", &k->users, &Decoder::User); !s.ok())
      return s;
    return NamedList(root, "contexts", "context", &k->contexts, &Decoder::Context);
  }

 private:
  // The value under key in a mapping, or a null node. Merge keys
  // (`<<: *base`, YAML 1.1, which kubectl's go-yaml honours) are looked into
  // after the mapping's own keys; depth bounds an alias that merges itself.
  //
  // Never assign one YAML::Node to another here: yaml-cpp's operator= does
  // not rebind the handle, it makes the node assigned to share the other's
  // data, rewriting the tree (with an alias, the very mapping being walked:
  // a use-after-free the fuzzer found). Nodes are only ever constructed.
  absl::StatusOr<YAML::Node> Get(const YAML::Node& map, absl::string_view key, int depth = 0) {
    if (!map.IsMap() || depth > 8) return YAML::Node();
    std::optional<YAML::Node> merge;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (--work_ < 0)
        return ErrorAt(map, "", "aliases repeat too much (over 200,000 key comparisons)");
      if (!it->first.IsScalar()) continue;
      const std::string& k = it->first.Scalar();
      if (k == key) return it->second;
      if (k == "<<" && it->first.Tag() == "?") merge.emplace(it->second);
    }
    if (!merge) return YAML::Node();
    if (merge->IsMap()) return Get(*merge, key, depth + 1);
    if (merge->IsSequence()) {
      for (auto it = merge->begin(); it != merge->end(); ++it) {
        auto v = Get(*it, key, depth + 1);
        if (!v.ok() || !Absent(*v)) return v;
      }
    }
    return YAML::Node();
  }

  static std::string Join(absl::string_view path, absl::string_view key) {
    return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
  }

  // A string field: absent and null are "".
  absl::Status Str(const YAML::Node& map, absl::string_view key, absl::string_view path,
                   std::string* out) {
    auto n = Get(map, key);
    if (!n.ok()) return n.status();
    if (Absent(*n)) return absl::OkStatus();
    if (!n->IsScalar()) return ErrorAt(*n, Join(path, key), "expected a string");
    *out = n->Scalar();
    return absl::OkStatus();
  }

  absl::Status Bool(const YAML::Node& map, absl::string_view key, absl::string_view path,
                    bool* out) {
    auto n = Get(map, key);
    if (!n.ok()) return n.status();
    if (Absent(*n)) return absl::OkStatus();
    if (!n->IsScalar()) return ErrorAt(*n, Join(path, key), "expected true or false");
    *out = IsTrue(*n);
    return absl::OkStatus();
  }

  // A field that is a mapping, or absent (null is absent).
  absl::StatusOr<YAML::Node> Map(const YAML::Node& map, absl::string_view key,
                                 absl::string_view path) {
    auto n = Get(map, key);
    if (!n.ok() || Absent(*n)) return n;
    if (!n->IsMap()) return ErrorAt(*n, Join(path, key), "expected a mapping");
    return n;
  }

  // A field that is a list, or absent (null is absent).
  absl::StatusOr<YAML::Node> List(const YAML::Node& map, absl::string_view key,
                                  absl::string_view path, absl::string_view of) {
    auto n = Get(map, key);
    if (!n.ok() || Absent(*n)) return n;
    if (!n->IsSequence()) return ErrorAt(*n, Join(path, key), absl::StrCat("expected a list", of));
    return n;
  }

  absl::Status Strs(const YAML::Node& map, absl::string_view path,
                    std::initializer_list<std::pair<const char*, std::string*>> fields) {
    for (const auto& [key, out] : fields)
      if (absl::Status s = Str(map, key, path, out); !s.ok()) return s;
    return absl::OkStatus();
  }

  // clusters/users/contexts: lists of {name, <item>}, each item decoded by fn
  // into out under its name. A name twice in one file is an error, as in
  // client-go.
  template <typename Entry>
  absl::Status NamedList(const YAML::Node& root, const char* list, const char* item,
                         std::map<std::string, Entry>* out,
                         absl::Status (Decoder::*fn)(const YAML::Node&, const std::string&,
                                                     Entry*)) {
    auto seq = List(root, list, "", "");
    if (!seq.ok() || Absent(*seq)) return seq.status();
    for (size_t i = 0; i < seq->size(); ++i) {
      const YAML::Node e = (*seq)[i];
      const std::string path = absl::StrCat(list, "[", i, "]");
      if (!e.IsMap())
        return ErrorAt(e, path, absl::StrCat("expected a mapping with name and ", item));
      std::string name;
      if (absl::Status s = Str(e, "name", path, &name); !s.ok()) return s;
      auto body = Map(e, item, path);
      if (!body.ok()) return body.status();
      Entry entry;
      // An absent body decodes as an empty one: a cluster without server is
      // an error only if the current context uses it.
      const YAML::Node empty(YAML::NodeType::Map);
      if (absl::Status s =
              (this->*fn)(Absent(*body) ? empty : *body, absl::StrCat(path, ".", item), &entry);
          !s.ok())
        return s;
      if (!out->emplace(name, std::move(entry)).second)
        return ErrorAt(e, list, absl::StrCat("duplicate name '", name, "'"));
    }
    return absl::OkStatus();
  }

  absl::Status Cluster(const YAML::Node& c, const std::string& path, ClusterEntry* e) {
    e->dir = dir_;
    if (absl::Status s = Strs(c, path,
                              {{"server", &e->server},
                               {"certificate-authority", &e->ca_file},
                               {"certificate-authority-data", &e->ca_data}});
        !s.ok())
      return s;
    return Bool(c, "insecure-skip-tls-verify", path, &e->insecure);
  }

  absl::Status User(const YAML::Node& u, const std::string& path, UserEntry* e) {
    e->dir = dir_;
    if (absl::Status s = Strs(u, path,
                              {{"token", &e->token},
                               {"tokenFile", &e->token_file},
                               {"client-certificate", &e->cert_file},
                               {"client-certificate-data", &e->cert_data},
                               {"client-key", &e->key_file},
                               {"client-key-data", &e->key_data}});
        !s.ok())
      return s;
    auto auth_provider = Get(u, "auth-provider");
    if (!auth_provider.ok()) return auth_provider.status();
    e->auth_provider = !Absent(*auth_provider);
    auto exec = Map(u, "exec", path);
    if (!exec.ok()) return exec.status();
    if (Absent(*exec)) return absl::OkStatus();
    e->exec.emplace();
    return Exec(*exec, path + ".exec", &*e->exec);
  }

  absl::Status Exec(const YAML::Node& x, const std::string& path, ExecEntry* e) {
    if (absl::Status s = Strs(x, path,
                              {{"apiVersion", &e->api_version},
                               {"command", &e->command},
                               {"installHint", &e->install_hint},
                               {"interactiveMode", &e->interactive_mode}});
        !s.ok())
      return s;
    if (absl::Status s = Bool(x, "provideClusterInfo", path, &e->provide_cluster_info); !s.ok())
      return s;
    auto args = List(x, "args", path, " of strings");
    if (!args.ok()) return args.status();
    for (size_t i = 0; !Absent(*args) && i < args->size(); ++i) {
      const YAML::Node a = (*args)[i];
      if (!a.IsScalar())
        return ErrorAt(a, absl::StrCat(path, ".args[", i, "]"), "expected a string");
      e->args.push_back(a.Scalar());
    }
    auto env = List(x, "env", path, " of name/value");
    if (!env.ok()) return env.status();
    for (size_t i = 0; !Absent(*env) && i < env->size(); ++i) {
      const YAML::Node v = (*env)[i];
      const std::string p = absl::StrCat(path, ".env[", i, "]");
      if (!v.IsMap()) return ErrorAt(v, p, "expected a mapping with name and value");
      std::string name, value;
      if (absl::Status s = Strs(v, p, {{"name", &name}, {"value", &value}}); !s.ok()) return s;
      if (name.empty() || name.find('=') != std::string::npos)
        return ErrorAt(v, p + ".name", "must be a non-empty variable name without '='");
      e->env.emplace_back(std::move(name), std::move(value));
    }
    return absl::OkStatus();
  }

  absl::Status Context(const YAML::Node& c, const std::string& path, ContextEntry* e) {
    return Strs(c, path, {{"cluster", &e->cluster}, {"user", &e->user}, {"namespace", &e->ns}});
  }

  const std::string dir_;
  int64_t work_ = kMaxWork;
};

// One file's text into a Kubeconfig; never throws.
absl::Status ParseFile(absl::string_view text, absl::string_view dir, Kubeconfig* k) {
  if (text.size() > kMaxBytes)
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig: ", text.size(), " bytes, more than the ", kMaxBytes, " allowed"));
  try {
    // The first document only, as client-go reads it.
    const YAML::Node root = YAML::Load(std::string(text));
    absl::Status s = Decoder(dir).Decode(root, k);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat("kubeconfig: ", s.message()));
    return absl::OkStatus();
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null())
      return absl::InvalidArgumentError(absl::StrCat("kubeconfig: invalid YAML: ", e.msg));
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig: invalid YAML at line ",
                                                   e.mark.line + 1, ", column ", e.mark.column + 1,
                                                   ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig: ", e.what()));
  } catch (...) {
    return absl::InternalError("kubeconfig: unknown exception while parsing");
  }
}

// ---- From the merged entries to a RestConfig. ----

// A PEM from `<field>-data` (base64) or `<field>` (a file path).
absl::StatusOr<std::string> Pem(const std::string& data, const std::string& file,
                                absl::string_view dir, absl::string_view field) {
  if (!data.empty()) {
    std::string pem;
    if (!absl::Base64Unescape(data, &pem))
      return absl::InvalidArgumentError(absl::StrCat(field, "-data is not valid base64"));
    return pem;
  }
  if (file.empty()) return std::string();
  auto pem = ReadFile(Resolve(dir, file));
  if (!pem.ok())
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", pem.status().message()));
  return pem;
}

absl::StatusOr<ExecConfig> Exec(const ExecEntry& x, const std::string& user, absl::string_view dir,
                                const RestConfig& c) {
  const std::string path = absl::StrCat("user '", user, "': exec.");
  if (x.api_version.empty()) return absl::InvalidArgumentError(path + "apiVersion must be set");
  if (x.api_version == "client.authentication.k8s.io/v1alpha1")
    return absl::UnimplementedError(
        path +
        "apiVersion client.authentication.k8s.io/v1alpha1 was removed in Kubernetes "
        "1.24; use client.authentication.k8s.io/v1");
  if (x.api_version != kExecCredentialV1 && x.api_version != kExecCredentialV1beta1)
    return absl::InvalidArgumentError(absl::StrCat(path, "apiVersion '", x.api_version, "' is not ",
                                                   kExecCredentialV1, " or ",
                                                   kExecCredentialV1beta1));
  if (x.command.empty()) return absl::InvalidArgumentError(path + "command must be set");
  // Never and IfAvailable mean the same here: the operator never has a
  // terminal. An unset mode (which kubectl insists on for v1) is taken as
  // IfAvailable, the v1beta1 default.
  if (x.interactive_mode == "Always")
    return absl::FailedPreconditionError(
        path + "interactiveMode Always needs a terminal, and the operator never has one");
  if (!x.interactive_mode.empty() && x.interactive_mode != "Never" &&
      x.interactive_mode != "IfAvailable")
    return absl::InvalidArgumentError(absl::StrCat(path, "interactiveMode '", x.interactive_mode,
                                                   "' is not Never, IfAvailable or Always"));
  ExecConfig e;
  e.api_version = x.api_version;
  // Like client-go: a command with a '/' is a path, relative to the
  // kubeconfig's directory; a bare name is looked up in $PATH when run.
  e.command = x.command.find('/') == std::string::npos ? x.command : Resolve(dir, x.command);
  e.args = x.args;
  e.env = x.env;
  e.install_hint = x.install_hint;
  e.provide_cluster_info = x.provide_cluster_info;
  e.server = c.server;
  e.ca_pem = c.ca_pem;
  e.insecure_skip_tls_verify = c.insecure_skip_tls_verify;
  e.user = user;
  return e;
}

// The current context of a (merged) kubeconfig as a RestConfig.
absl::StatusOr<RestConfig> Build(const Kubeconfig& k, const util::Clock* clock) {
  if (k.current_context.empty())
    return absl::InvalidArgumentError("kubeconfig: no current-context");
  auto ctx = k.contexts.find(k.current_context);
  if (ctx == k.contexts.end())
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig: no context named '", k.current_context, "'"));
  const ContextEntry& context = ctx->second;
  if (context.cluster.empty())
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig: context '", ctx->first, "' names no cluster"));
  auto cl = k.clusters.find(context.cluster);
  if (cl == k.clusters.end())
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig: no cluster named '", context.cluster, "'"));
  const ClusterEntry& cluster = cl->second;

  RestConfig c;
  c.server = cluster.server;
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  if (c.server.empty())
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig: cluster '", cl->first,
                                                   "' has no server (clusters[].cluster.server)"));
  if (!context.ns.empty()) c.default_namespace = context.ns;
  // Only an explicit true turns verification off.
  c.insecure_skip_tls_verify = cluster.insecure;
  auto ca = Pem(cluster.ca_data, cluster.ca_file, cluster.dir, "certificate-authority");
  if (!ca.ok()) return ca.status();
  c.ca_pem = std::move(*ca);

  if (context.user.empty()) return c;
  auto u = k.users.find(context.user);
  if (u == k.users.end())
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig: no user named '", context.user, "'"));
  const UserEntry& user = u->second;
  auto cert = Pem(user.cert_data, user.cert_file, user.dir, "client-certificate");
  if (!cert.ok()) return cert.status();
  auto key = Pem(user.key_data, user.key_file, user.dir, "client-key");
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty())
    return absl::InvalidArgumentError("kubeconfig: client certificate and key must come together");
  c.client_cert_pem = std::move(*cert);
  c.client_key_pem = std::move(*key);
  if (user.auth_provider)
    return absl::UnimplementedError(
        absl::StrCat("kubeconfig user '", u->first,
                     "': auth-provider plugins are not supported (they were removed from "
                     "kubectl in 1.26; use an exec plugin)"));
  // client-go's order: a token in the kubeconfig wins over the file and the
  // plugin (its exec round tripper leaves a request with a token alone).
  if (!user.token.empty()) {
    c.token = std::make_shared<StaticTokenSource>(user.token);
  } else if (!user.token_file.empty()) {
    c.token = std::make_shared<FileTokenSource>(Resolve(user.dir, user.token_file), clock);
  } else if (user.exec) {
    auto exec = Exec(*user.exec, u->first, user.dir, c);
    if (!exec.ok())
      return absl::Status(exec.status().code(),
                          absl::StrCat("kubeconfig ", exec.status().message()));
    c.token = std::make_shared<ExecTokenSource>(std::move(*exec), clock);
  }
  return c;
}

// client-go's merge (clientcmd/loader.go): for clusters, users and contexts
// the first file that defines a name wins, entry and all; current-context
// comes from the first file that sets it.
void Merge(Kubeconfig&& from, Kubeconfig* into) {
  if (into->current_context.empty()) into->current_context = std::move(from.current_context);
  into->clusters.merge(from.clusters);  // keeps into's entry on a clash
  into->users.merge(from.users);
  into->contexts.merge(from.contexts);
  into->empty = into->empty && from.empty;
}

// The files in order, merged; nullopt when none of them exists. A file that
// exists but cannot be read or parsed is an error naming it.
absl::StatusOr<std::optional<Kubeconfig>> LoadFiles(const std::vector<std::string>& paths) {
  std::optional<Kubeconfig> merged;
  for (const auto& path : paths) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    auto text = ReadFile(path);
    if (!text.ok()) return text.status();
    Kubeconfig k;
    absl::Status s = ParseFile(*text, std::filesystem::path(path).parent_path().string(), &k);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
    if (!merged) merged.emplace();
    Merge(std::move(k), &*merged);
  }
  return merged;
}

// The config, with its first token fetched now: a missing token file or a
// broken plugin stops the start with its message (client-go reads
// tokenFile when it builds the config, too).
absl::StatusOr<RestConfig> Ready(absl::StatusOr<RestConfig> c, absl::string_view source) {
  if (!c.ok())
    return absl::Status(c.status().code(), absl::StrCat(source, ": ", c.status().message()));
  if (c->token) {
    if (auto t = c->token->Token(); !t.ok())
      return absl::Status(t.status().code(), absl::StrCat(source, ": ", t.status().message()));
  }
  return c;
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
  Kubeconfig k;
  if (absl::Status s = ParseFile(text, dir, &k); !s.ok()) return s;
  if (k.empty) return absl::InvalidArgumentError("kubeconfig: empty document");
  return Build(k, clock);
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
  // --kubeconfig: that file alone, which must exist (kubectl's rule).
  if (!s.kubeconfig_flag.empty()) {
    auto text = ReadFile(s.kubeconfig_flag);
    if (!text.ok()) return text.status();
    return Ready(ParseKubeconfig(
                     *text, std::filesystem::path(s.kubeconfig_flag).parent_path().string(), clock),
                 s.kubeconfig_flag);
  }
  std::vector<std::string> paths = absl::StrSplit(s.kubeconfig_env, ':', absl::SkipEmpty());
  if (!paths.empty()) {
    auto merged = LoadFiles(paths);
    if (!merged.ok()) return merged.status();
    const std::string source =
        paths.size() == 1 ? paths[0] : absl::StrCat("$KUBECONFIG ", s.kubeconfig_env);
    if (*merged && !(*merged)->empty) return Ready(Build(**merged, clock), source);
    // Nothing there: client-go then tries in-cluster, never ~/.kube/config.
    if (!s.service_host.empty()) return InClusterConfig(s, clock);
    return absl::NotFoundError(
        absl::StrCat("no API server configured: none of the files in "
                     "$KUBECONFIG (",
                     absl::StrJoin(paths, ", "), ") exists or says anything"));
  }
  if (!s.service_host.empty()) return InClusterConfig(s, clock);
  if (!s.home.empty()) {
    const std::string path = absl::StrCat(s.home, "/.kube/config");
    if (std::filesystem::exists(path)) {
      ConfigSources home;
      home.kubeconfig_flag = path;
      return LoadRestConfig(home, clock);
    }
  }
  return absl::NotFoundError(
      "no API server configured: pass --kubeconfig, set KUBECONFIG, run in a pod, or create "
      "~/.kube/config");
}

}  // namespace kube

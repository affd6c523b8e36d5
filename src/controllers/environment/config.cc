#include "controllers/environment/config.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "controllers/environment/egress.h"
#include "kube/quantity.h"

namespace controllers {

void RegisterFlags(util::FlagSet& flags, OperatorConfig* cfg) {
  flags.String("ingress-namespace", &cfg->ingress_namespace, "namespace of the ingress controller");
  flags.String("ingress-class", &cfg->ingress_class,
               "ingressClassName of web Ingresses (empty: default)");
  flags.String("url-host-template", &cfg->url_host_template,
               "web host; {name} {namespace} replaced");
  flags.String("url-scheme", &cfg->url_scheme, "scheme of status.url");
  flags.Duration("failure-deadline", &cfg->failure_deadline,
                 "no progress for this long: phase Failed");
  flags.String("quota-cpu", &cfg->quota_cpu, "ResourceQuota requests.cpu");
  flags.String("quota-memory", &cfg->quota_memory, "ResourceQuota memory");
  flags.String("quota-storage", &cfg->quota_storage, "ResourceQuota requests.storage");
  flags.String("quota-pods", &cfg->quota_pods, "ResourceQuota pods");
  flags.String("quota-max-cpu", &cfg->quota_max_cpu,
               "the most CPU a Project's defaultQuota may ask for");
  flags.String("quota-max-memory", &cfg->quota_max_memory,
               "the most memory a Project's defaultQuota may ask for");
  flags.String("egress-except-cidrs", &cfg->egress_except_cidrs,
               "comma-separated CIDRs environments may not reach (pod, service, node ranges); "
               "169.254.0.0/16 and fe80::/10 always");
  flags.String("git-ports", &cfg->git_ports, "comma-separated TCP ports a repository URL may name");
  flags.String("postgres-image", &cfg->postgres_image, "postgres image");
  flags.String("node-image", &cfg->node_image, "node image (npm install, migrate, next dev)");
  flags.String("git-image", &cfg->git_image, "git image (clone)");
  flags.String("web-memory-limit", &cfg->web_memory_limit, "web container memory limit");
  flags.String("postgres-memory-limit", &cfg->postgres_memory_limit, "postgres memory limit");
  flags.String("postgres-storage", &cfg->postgres_storage, "postgres volume size");
  flags.String("workspace-storage", &cfg->workspace_storage, "workspace volume size");
  flags.String("storage-class", &cfg->storage_class,
               "storageClassName of volumes (empty: default)");
  // The name the Catalyst chart and upstream's operator give it, below the flag and
  // KUBE_OPERATOR_WEB_URL.
  if (const char* url = std::getenv("CATALYST_WEB_URL"); url && cfg->web_url.empty())
    cfg->web_url = url;
  flags.String("web-url", &cfg->web_url,
               "the Catalyst web app (git tokens, secrets); env CATALYST_WEB_URL too");
  flags.String("web-namespace", &cfg->web_namespace,
               "namespace of the web app (egress rule); empty: from --web-url's host");
  flags.Bool("registry-credentials", &cfg->registry_credentials,
             "copy each Project namespace's registry-credentials Secret to its environments "
             "(needs RBAC on Secrets)");
  flags.String("render-work-dir", &cfg->render_work_dir,
               "where helm templates' charts are cloned and rendered (empty: $TMPDIR, else /tmp)");
  flags.Int("render-concurrency", &cfg->render_concurrency, "chart renders at once");
  flags.String("registry", &cfg->registry,
               "where template builds push images (host[:port][/path]; empty: no builds)");
  flags.String("builder-image", &cfg->builder_image, "image of the build Jobs (buildah)");
  flags.String("build-memory-limit", &cfg->build_memory_limit, "build container memory limit");
  flags.String("build-storage-limit", &cfg->build_storage_limit,
               "sizeLimit of a build's checkout and of its image layers (emptyDirs)");
  flags.Duration("build-timeout", &cfg->build_timeout, "a build Job's activeDeadlineSeconds");
}

namespace {

// host[:port][/path]: what an image reference starts with (the values
// schema's pattern): DNS characters, a numeric port, path components of
// [a-z0-9._-], a trailing "/" allowed.
bool ValidRegistry(absl::string_view r) {
  r = absl::StripSuffix(r, "/");
  std::vector<absl::string_view> parts = absl::StrSplit(r, '/');
  auto charset = [](absl::string_view s, absl::string_view extra) {
    if (s.empty()) return false;
    for (char c : s)
      if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'z') && extra.find(c) == extra.npos)
        return false;
    return true;
  };
  if (std::count(parts[0].begin(), parts[0].end(), ':') > 1) return false;
  std::pair<absl::string_view, absl::string_view> host_port = absl::StrSplit(parts[0], ':');
  const absl::string_view host = host_port.first, port = host_port.second;
  if (!charset(host, ".-") || host.front() == '.' || host.front() == '-') return false;
  if (parts[0].find(':') != absl::string_view::npos &&
      (port.empty() || port.size() > 5 ||
       !std::all_of(port.begin(), port.end(), absl::ascii_isdigit)))
    return false;
  for (size_t i = 1; i < parts.size(); ++i)
    if (!charset(parts[i], "._-")) return false;
  return true;
}

}  // namespace

absl::Status ValidateConfig(const OperatorConfig& cfg) {
  std::vector<std::string> problems;
  auto quantity = [&](absl::string_view field, absl::string_view q) -> double {
    absl::StatusOr<double> v = kube::QuantityValue(q);
    if (!v.ok()) {
      problems.push_back(absl::StrCat(field, ": ", v.status().message()));
      return 0;
    }
    if (*v <= 0) problems.push_back(absl::StrCat(field, " must be positive, got \"", q, "\""));
    return *v;
  };
  if (!cfg.web_url.empty() && !absl::StartsWith(cfg.web_url, "http://") &&
      !absl::StartsWith(cfg.web_url, "https://"))
    problems.push_back(absl::StrCat("web_url \"", cfg.web_url, "\" is not an http(s) URL"));
  double quota_cpu = quantity("quota_cpu", cfg.quota_cpu);
  double quota_memory = quantity("quota_memory", cfg.quota_memory);
  double quota_storage = quantity("quota_storage", cfg.quota_storage);
  double quota_pods = quantity("quota_pods", cfg.quota_pods);
  quantity("quota_max_cpu", cfg.quota_max_cpu);
  quantity("quota_max_memory", cfg.quota_max_memory);
  if (auto e = ParseEgressExcept(cfg.egress_except_cidrs); !e.ok())
    problems.emplace_back(e.status().message());
  if (auto g = ParseGitPorts(cfg.git_ports); !g.ok()) problems.emplace_back(g.status().message());
  if (cfg.render_concurrency < 1 || cfg.render_concurrency > 16)
    problems.push_back(
        absl::StrCat("render_concurrency must be 1 to 16, got ", cfg.render_concurrency));
  double web_memory = quantity("web_memory_limit", cfg.web_memory_limit);
  double pg_memory = quantity("postgres_memory_limit", cfg.postgres_memory_limit);
  double web_cpu = quantity("web_cpu_request", cfg.web_cpu_request);
  double pg_cpu = quantity("postgres_cpu_request", cfg.postgres_cpu_request);
  quantity("default_cpu_limit", cfg.default_cpu_limit);
  quantity("build_memory_limit", cfg.build_memory_limit);
  quantity("build_storage_limit", cfg.build_storage_limit);
  if (cfg.build_timeout < absl::Seconds(1))
    problems.emplace_back("build_timeout must be at least 1s");
  if (!cfg.registry.empty() && !ValidRegistry(cfg.registry))
    problems.push_back(absl::StrCat("registry \"", cfg.registry,
                                    "\" is not a lowercase host[:port][/path] (no scheme)"));
  double pg_storage = quantity("postgres_storage", cfg.postgres_storage);
  double ws_storage = quantity("workspace_storage", cfg.workspace_storage);
  if (problems.empty()) {
    // One environment: the web pod and the postgres pod (Recreate: never two
    // web pods) and both volumes, or the quota refuses them for good.
    if (web_memory + pg_memory > quota_memory)
      problems.push_back(absl::StrCat("quota_memory ", cfg.quota_memory,
                                      " cannot hold web_memory_limit ", cfg.web_memory_limit,
                                      " + postgres_memory_limit ", cfg.postgres_memory_limit));
    if (web_cpu + pg_cpu > quota_cpu)
      problems.push_back(absl::StrCat("quota_cpu ", cfg.quota_cpu, " cannot hold web_cpu_request ",
                                      cfg.web_cpu_request, " + postgres_cpu_request ",
                                      cfg.postgres_cpu_request));
    if (pg_storage + ws_storage > quota_storage)
      problems.push_back(absl::StrCat("quota_storage ", cfg.quota_storage,
                                      " cannot hold postgres_storage ", cfg.postgres_storage,
                                      " + workspace_storage ", cfg.workspace_storage));
    if (quota_pods < 2)
      problems.emplace_back("quota_pods must allow at least 2 pods (web, postgres)");
  }
  for (auto [field, value] :
       {std::pair<absl::string_view, absl::string_view>{"postgres_image", cfg.postgres_image},
        {"node_image", cfg.node_image},
        {"git_image", cfg.git_image},
        {"builder_image", cfg.builder_image},
        {"ingress_namespace", cfg.ingress_namespace},
        {"dns_namespace", cfg.dns_namespace},
        {"field_manager", cfg.field_manager}})
    if (value.empty()) problems.push_back(absl::StrCat(field, " must not be empty"));
  if (cfg.url_scheme != "http" && cfg.url_scheme != "https")
    problems.push_back(
        absl::StrCat("url_scheme must be http or https, got \"", cfg.url_scheme, "\""));
  // The Ingress host must be a DNS subdomain for the longest target namespace
  // (63 characters) and a 63-character name (longer names are rare).
  std::string host = absl::StrReplaceAll(
      cfg.url_host_template,
      {{"{name}", std::string(63, 'n')}, {"{namespace}", std::string(63, 's')}});
  bool host_ok = !host.empty() && host.size() <= 253;
  for (absl::string_view label : absl::StrSplit(host, '.')) {
    host_ok = host_ok && !label.empty() && label.size() <= 63 && label.front() != '-' &&
              label.back() != '-';
    for (char c : label)
      host_ok = host_ok && (absl::ascii_isdigit(c) || (c >= 'a' && c <= 'z') || c == '-');
  }
  if (!host_ok)
    problems.push_back(absl::StrCat("url_host_template \"", cfg.url_host_template,
                                    "\" does not render to a lowercase DNS name (placeholders: "
                                    "{name}, {namespace})"));
  // {name} alone repeats across projects ("dev" in each): two Environments
  // would share one host, and the ingress would route one's users to the other.
  if (!absl::StrContains(cfg.url_host_template, "{namespace}"))
    problems.push_back(absl::StrCat("url_host_template \"", cfg.url_host_template,
                                    "\" must contain {namespace} (unique per Environment)"));
  if (cfg.failure_deadline <= absl::ZeroDuration())
    problems.emplace_back("failure_deadline must be positive");
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

}  // namespace controllers

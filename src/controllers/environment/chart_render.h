// Rendering a tenant's Helm chart to manifests in the operator's own pod
// (issue #25; docs/contract.md, "Private repositories"): the repository is
// cloned at one commit with the git token the web app hands out, then
// `helm template` renders the chart. Both are child processes
// (util::RunProcess) bounded in time, memory, disk and output: the repository
// and the chart are hostile input. The render runs here, not in a Job, because
// its output must come back to the operator.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace controllers {

struct ChartSource {
  // https://, http://, git:// (as resolve.cc accepts them); ssh:// and
  // git@host:path are fetched as https://host/path, since the operator holds
  // no SSH key and a GitHub App token authenticates over HTTPS only. file://
  // only with RenderOptions::allow_file_protocol.
  std::string url;
  std::string branch;  // used when commit is empty; both empty: the remote's HEAD
  std::string commit;  // 7 to 40 hex digits; a full sha is fetched alone (shallow)
  // Empty: anonymous. Else the git token, given to git as the password of
  // user x-access-token (as GitHub App tokens are used) by a credential
  // helper that reads it from the child's environment, only for the URL's
  // own scheme and host: never in argv, a URL or a file.
  std::string token;
  // The chart's directory inside the repository: relative, no "..", "" or
  // "." for the root. It and every symlink under it must stay inside the
  // checkout (a link to /var/run/secrets would put the operator's files into
  // the tenant's manifests).
  std::string chart_path;
};

struct RenderOptions {
  std::string release;       // helm's release name: the Environment's name
  std::string ns;            // --namespace: the environment namespace
  std::string values_yaml;   // the template's values (YAML or JSON text)
  std::string kube_version;  // --kube-version (Capabilities.KubeVersion) when set
  // The programs; without a '/' looked up in the operator's $PATH.
  std::string git = "git", helm = "helm";
  // Where a fresh directory is made for each render (removed after it,
  // whatever happens); "" is $TMPDIR, else /tmp.
  std::string work_dir;
  absl::Duration clone_timeout = absl::Seconds(60);  // every git step together
  absl::Duration render_timeout = absl::Seconds(30);
  size_t max_repo_bytes = 256 << 20;  // the checkout, .git included
  size_t max_output_bytes = 4 << 20;  // helm's stdout
  // RLIMIT_DATA of git and helm (and their children): their heap. Not
  // RLIMIT_AS: Go reserves ~800 MiB of address space before helm allocates
  // anything, and would not start under a real memory bound of that kind.
  size_t max_memory_bytes = 512 << 20;
  bool allow_file_protocol = false;  // file:// URLs: tests only
  // Compose mode (docs/contract.md, "Compose"): chart_path names a compose
  // file, or a directory holding compose.yaml, compose.yml,
  // docker-compose.yaml or docker-compose.yml (the first found); it is
  // converted (compose.h) instead of rendered by helm. images: the template
  // builds' images by name, for services with `build:` and no `image:`.
  bool compose = false;
  std::map<std::string, std::string> images;
  std::string compose_cpu_limit;     // ComposeInput::default_cpu_limit
  bool compose_pull_secret = false;  // ComposeInput::pull_secret
  size_t max_compose_bytes = 256 << 10;
};

struct RenderResult {
  std::string commit;     // the sha rendered (full)
  std::string manifests;  // helm template's output: YAML documents
};

// Clones source (shallow, no submodules, no LFS, no hooks) into a fresh
// directory under options.work_dir, checks its size and the chart, renders it
// with `helm template <release> <chart> --namespace <ns> -f <values>
// --skip-tests --skip-schema-validation` and removes the directory. No
// --validate and no --dependency-update: no cluster and no chart repository
// is asked (dependencies must be vendored in charts/). No values.schema.json
// either: helm would fetch the URLs and read the files its $refs name.
//
// The children get an environment of their own: HOME and helm's directories
// in the scratch directory, no KUBECONFIG, no KUBERNETES_SERVICE_* (no
// cluster credentials), no system or global git config, no terminal prompt,
// only the protocols above; PATH, the proxy variables and SSL_CERT_FILE/DIR
// are passed on.
//
// Errors name the step ("clone:", "checkout:", "size:", "chart:", "render:")
// and quote the tool's stderr (its last KiB); the token never appears in them
// (redacted, with whatever else looks like a credential):
//   InvalidArgument    bad source or options, a chart_path or symlink outside
//                      the checkout, no Chart.yaml, helm template failed
//   NotFound           the commit or branch is not in the repository
//   Unavailable        git fetch failed otherwise (unreachable, refused, ...)
//   ResourceExhausted  max_repo_bytes, max_output_bytes or max_memory_bytes
//   DeadlineExceeded   clone_timeout or render_timeout
//   FailedPrecondition git or helm missing, work_dir unusable (the operator's
//                      installation, not the tenant's input)
absl::StatusOr<RenderResult> RenderChart(const ChartSource& source, const RenderOptions& options);

}  // namespace controllers

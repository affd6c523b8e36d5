// ExecTokenSource: bearer tokens from a client-go credential plugin (a
// kubeconfig's `users[].user.exec`: aws eks get-token, gke-gcloud-auth-plugin,
// kubelogin, ...), the way managed clusters hand out identities outside them.
//
// The plugin is run (fork/exec, no shell) when a token is first needed, again
// shortly before the token's expirationTimestamp, and after the API server
// refused the token (401). Its ExecCredential (client.authentication.k8s.io
// v1 or v1beta1) must carry status.token: the transport's TLS identity is
// fixed when it is built, so client certificates from a plugin are refused
// (Unimplemented). Errors name the plugin and show its stderr, never the token.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kube/token_source.h"
#include "util/clock.h"

namespace kube {

inline constexpr char kExecCredentialV1[] = "client.authentication.k8s.io/v1";
inline constexpr char kExecCredentialV1beta1[] = "client.authentication.k8s.io/v1beta1";

struct ExecConfig {
  std::string api_version;  // kExecCredentialV1 or kExecCredentialV1beta1
  // A path (relative ones were resolved against the kubeconfig's directory)
  // or a name looked up in $PATH.
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // added to the operator's
  std::string install_hint;                              // shown when the command is missing
  bool provide_cluster_info = false;
  // spec.cluster of KUBERNETES_EXEC_INFO when provide_cluster_info.
  std::string server;
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  std::string user;  // the kubeconfig user, for messages

  absl::Duration timeout = absl::Seconds(30);
  // A token is replaced this long before its expiry (or at half its life
  // when that is shorter): requests queued behind a rate limiter must not
  // reach the server with a token that expired on the way.
  absl::Duration refresh_before = absl::Seconds(30);
};

struct ExecCredential {
  std::string token;
  absl::Time expiry = absl::InfiniteFuture();  // no expirationTimestamp: until a 401
};

// Decodes a plugin's stdout. api_version is what the kubeconfig asked for;
// the plugin must answer in it.
absl::StatusOr<ExecCredential> ParseExecCredential(absl::string_view json,
                                                   absl::string_view api_version);

// The KUBERNETES_EXEC_INFO value the plugin gets (client-go sets it always).
std::string ExecInfo(const ExecConfig& config);

class ExecTokenSource final : public TokenSource {
 public:
  // clock decides expiry and must outlive this; the plugin's timeout is real time.
  ExecTokenSource(ExecConfig config, const util::Clock* clock);

  // Runs the plugin when no valid token is cached. Callers wait for a run in
  // progress and share its token.
  absl::StatusOr<std::string> Token() override;
  void Invalidate() override;

  // After a 401 a new run is made only if the token is at least this old:
  // requests in flight with the refused token come back 401 together, and
  // one new token serves them all.
  static constexpr absl::Duration kMinAgeToReplace = absl::Seconds(1);

 private:
  absl::StatusOr<ExecCredential> Run() const;

  const ExecConfig config_;
  const util::Clock* const clock_;
  std::mutex mu_;  // held across a run: concurrent callers wait for its token
  std::string token_;
  absl::Time obtained_at_ = absl::InfinitePast();
  absl::Time expiry_ = absl::InfinitePast();
  absl::Time refresh_at_ = absl::InfinitePast();
  bool invalidated_ = false;
};

}  // namespace kube

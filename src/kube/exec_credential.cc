#include "kube/exec_credential.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "kube/object.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "util/subprocess.h"

namespace kube {
namespace {

// After an early refresh failed, the current token is used this long before
// the plugin is tried again.
constexpr absl::Duration kRetryFailedRefresh = absl::Seconds(5);

// How much of a plugin's stderr goes into an error message.
constexpr size_t kStderrInMessage = 1024;

// A value from the plugin's output quoted in an error: short, as the output
// may be anything (a token is never quoted: only kind and apiVersion are).
std::string Quote(absl::string_view s) {
  if (s.size() > 64) return absl::StrCat("'", absl::CEscape(s.substr(0, 64)), "...'");
  return absl::StrCat("'", absl::CEscape(s), "'");
}

// An optional string member: absent and null are "", anything else but a
// string is an error naming the field.
absl::StatusOr<absl::string_view> OptionalString(const rapidjson::Value& obj, absl::string_view key,
                                                 absl::string_view path) {
  const rapidjson::Value* v = Member(obj, key);
  if (v == nullptr || v->IsNull()) return absl::string_view();
  if (!v->IsString()) return absl::InvalidArgumentError(absl::StrCat(path, " is not a string"));
  return StrOf(v);
}

}  // namespace

absl::StatusOr<ExecCredential> ParseExecCredential(absl::string_view json,
                                                   absl::string_view api_version) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError())
    return absl::InvalidArgumentError(absl::StrCat("output is not an ExecCredential: not JSON (",
                                                   rapidjson::GetParseError_En(doc.GetParseError()),
                                                   " at offset ", doc.GetErrorOffset(), ")"));
  if (!doc.IsObject())
    return absl::InvalidArgumentError("output is not an ExecCredential: not a JSON object");
  const absl::string_view kind = StrOf(Member(doc, "kind"));
  if (kind != "ExecCredential")
    return absl::InvalidArgumentError(
        absl::StrCat("output is not an ExecCredential: kind is ", Quote(kind)));
  const absl::string_view version = StrOf(Member(doc, "apiVersion"));
  if (version != api_version)
    return absl::InvalidArgumentError(absl::StrCat("the kubeconfig asks for apiVersion ",
                                                   api_version, ", the plugin answered ",
                                                   Quote(version)));
  const rapidjson::Value* status = Member(doc, "status");
  if (status == nullptr || !status->IsObject())
    return absl::InvalidArgumentError("the ExecCredential has no status");
  for (const char* field : {"clientCertificateData", "clientKeyData"}) {
    auto v = OptionalString(*status, field, absl::StrCat("status.", field));
    if (!v.ok()) return v.status();
    if (!v->empty())
      return absl::UnimplementedError(absl::StrCat(
          "the ExecCredential carries status.", field,
          ": client certificates from exec plugins are not supported (the operator's TLS "
          "identity is fixed when its connection is built); configure the plugin to return a "
          "token"));
  }
  auto token = OptionalString(*status, "token", "status.token");
  if (!token.ok()) return token.status();
  if (token->empty()) return absl::InvalidArgumentError("the ExecCredential has no status.token");
  ExecCredential cred;
  cred.token = std::string(*token);
  auto expiry = OptionalString(*status, "expirationTimestamp", "status.expirationTimestamp");
  if (!expiry.ok()) return expiry.status();
  if (!expiry->empty()) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, *expiry, &cred.expiry, &err))
      return absl::InvalidArgumentError(absl::StrCat("status.expirationTimestamp ", Quote(*expiry),
                                                     " is not an RFC 3339 time: ", err));
  }
  return cred;
}

std::string ExecInfo(const ExecConfig& c) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("kind");
  w.String("ExecCredential");
  w.Key("apiVersion");
  w.String(c.api_version.data(), c.api_version.size());
  w.Key("spec");
  w.StartObject();
  if (c.provide_cluster_info) {
    // client-go's field names and omitempty rules.
    w.Key("cluster");
    w.StartObject();
    w.Key("server");
    w.String(c.server.data(), c.server.size());
    if (c.insecure_skip_tls_verify) {
      w.Key("insecure-skip-tls-verify");
      w.Bool(true);
    }
    if (!c.ca_pem.empty()) {
      const std::string ca = absl::Base64Escape(c.ca_pem);
      w.Key("certificate-authority-data");
      w.String(ca.data(), ca.size());
    }
    w.EndObject();
  }
  // There is never a terminal: the plugin must not prompt.
  w.Key("interactive");
  w.Bool(false);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

ExecTokenSource::ExecTokenSource(ExecConfig config, const util::Clock* clock)
    : config_(std::move(config)), clock_(clock) {}

absl::StatusOr<std::string> ExecTokenSource::Token() {
  std::lock_guard l(mu_);
  const absl::Time now = clock_->Now();
  const bool refused = invalidated_ && now - obtained_at_ >= kMinAgeToReplace;
  if (!token_.empty() && now < refresh_at_ && !refused) {
    // A 401 for a token older than this one, or one of a burst: keep it.
    invalidated_ = false;
    return token_;
  }
  auto cred = Run();
  if (!cred.ok()) {
    // An early refresh that failed: the token still works until it expires.
    // Try again a little later, not at every request (each would wait for
    // the plugin, up to its timeout).
    if (!token_.empty() && !refused && now < expiry_) {
      refresh_at_ = std::min(expiry_, now + kRetryFailedRefresh);
      return token_;
    }
    return cred.status();
  }
  token_ = std::move(cred->token);
  obtained_at_ = clock_->Now();
  expiry_ = cred->expiry;
  // Infinite expiry stays infinite through this arithmetic.
  refresh_at_ =
      std::max(expiry_ - config_.refresh_before, obtained_at_ + (expiry_ - obtained_at_) / 2);
  invalidated_ = false;
  return token_;
}

void ExecTokenSource::Invalidate() {
  std::lock_guard l(mu_);
  invalidated_ = true;
}

absl::StatusOr<ExecCredential> ExecTokenSource::Run() const {
  const std::string what =
      absl::StrCat("exec plugin ", config_.command, " of kubeconfig user '", config_.user, "'");
  const std::string hint =
      config_.install_hint.empty() ? "" : absl::StrCat("\n", config_.install_hint);
  const char* path_env = std::getenv("PATH");
  const std::string program = util::FindProgram(config_.command, path_env ? path_env : "");
  if (program.empty()) return absl::NotFoundError(absl::StrCat(what, ": not found in $PATH", hint));

  util::ProcessOptions o{.path = program, .timeout = config_.timeout};
  o.argv.push_back(config_.command);
  o.argv.insert(o.argv.end(), config_.args.begin(), config_.args.end());
  // The operator's environment with the kubeconfig's variables on top (last
  // wins, as in client-go) and KUBERNETES_EXEC_INFO.
  std::vector<std::pair<std::string, std::string>> extra = config_.env;
  extra.emplace_back("KUBERNETES_EXEC_INFO", ExecInfo(config_));
  for (char** e = environ; *e != nullptr; ++e) {
    const absl::string_view entry(*e);
    const absl::string_view name = entry.substr(0, entry.find('='));
    if (std::none_of(extra.begin(), extra.end(), [&](const auto& kv) { return kv.first == name; }))
      o.env.emplace_back(entry);
  }
  for (const auto& kv : extra) {
    // A name set twice in the kubeconfig: its last value only.
    const std::string prefix = absl::StrCat(kv.first, "=");
    o.env.erase(std::remove_if(o.env.begin(), o.env.end(),
                               [&](const std::string& e) { return absl::StartsWith(e, prefix); }),
                o.env.end());
    o.env.push_back(absl::StrCat(prefix, kv.second));
  }

  auto r = util::RunProcess(o);
  if (!r.ok()) {
    const bool missing = r.status().code() == absl::StatusCode::kNotFound;
    return absl::Status(r.status().code(),
                        absl::StrCat(what, ": ", r.status().message(), missing ? hint : ""));
  }
  if (r->exit_code != 0) {
    std::string err(absl::StripAsciiWhitespace(r->err));
    if (err.size() > kStderrInMessage || r->err_truncated) {
      err.resize(std::min(err.size(), kStderrInMessage));
      err += "...";
    }
    const std::string how = r->term_signal != 0
                                ? absl::StrCat("was killed by signal ", r->term_signal)
                                : absl::StrCat("failed with exit code ", r->exit_code);
    // 126/127: what a shell answers when it cannot run a command, as when the
    // plugin is a wrapper whose tool is missing.
    const bool missing = r->exit_code == 126 || r->exit_code == 127;
    return absl::UnavailableError(
        absl::StrCat(what, " ", how, err.empty() ? "" : ": ", err, missing ? hint : ""));
  }
  auto cred = ParseExecCredential(r->out, config_.api_version);
  if (!cred.ok())
    return absl::Status(cred.status().code(), absl::StrCat(what, ": ", cred.status().message()));
  return cred;
}

}  // namespace kube

#include "api/v1alpha1/environment.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "api/v1alpha1/bounds.h"
#include "api/v1alpha1/problems.h"

namespace v1alpha1 {
namespace {

namespace b = bounds;
using rapidjson::Value;

// CRD pattern '^[0-9a-f]{7,40}$' (after "" and HEAD are taken out).
bool ValidCommitSha(absl::string_view s) {
  if (s.size() < 7 || s.size() > 40) return false;
  for (char c : s)
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  return true;
}

void ParseSources(const Value* v, Problems& p, std::vector<Source>& out) {
  p.ForEachObject(
      v, "spec.sources", b::kEnvironmentSourceItems,
      [&](const Value& item, const std::string& path) {
        Source s;
        s.name = p.Str(kube::Member(item, "name"), path + ".name", b::kLabel);
        s.repository_url =
            p.Str(kube::Member(item, "repositoryUrl"), path + ".repositoryUrl", b::kUrl);
        s.branch = p.Str(kube::Member(item, "branch"), path + ".branch", b::kBranch);
        // Longer than a sha is refused below; the bound only keeps the message short.
        s.commit_sha = p.Str(kube::Member(item, "commitSha"), path + ".commitSha", b::kBranch);
        // The web app sends commitSha "" (older clients "HEAD") to mean "the branch".
        if (s.commit_sha == "HEAD") s.commit_sha.clear();
        if (s.name.empty()) p.Add(absl::StrCat(path, ".name is required"));
        if (!s.repository_url.empty())
          if (std::string why = RepositoryUrlProblem(s.repository_url); !why.empty())
            p.Add(absl::StrCat(path, ".repositoryUrl \"", s.repository_url, "\" ", why));
        if (!s.branch.empty() && !ValidBranch(s.branch))
          p.Add(absl::StrCat(path, ".branch \"", s.branch, "\" is not a valid git branch name"));
        if (!s.commit_sha.empty() && !ValidCommitSha(s.commit_sha))
          p.Add(absl::StrCat(path, ".commitSha \"", s.commit_sha,
                             "\" must be 7 to 40 lowercase hex digits (or empty, or HEAD)"));
        if (const Value* pr = kube::Member(item, "prNumber"); pr && !pr->IsNull()) {
          if (pr->IsInt64() && pr->GetInt64() >= 1)
            s.pr_number = pr->GetInt64();
          else
            p.Add(absl::StrCat(path, ".prNumber must be a positive integer"));
        }
        out.push_back(std::move(s));
      });
}

}  // namespace

absl::string_view ModeName(DeploymentMode m) {
  switch (m) {
    case DeploymentMode::kDevelopment:
      return "development";
    case DeploymentMode::kProduction:
      return "production";
    case DeploymentMode::kWorkspace:
      return "workspace";
  }
  return "";
}

// CRD pattern '^(https?://|ssh://|git://|git@)[^\s]+$' and its CEL rule for
// git@. The URL reaches git as a positional argument after "--", never through
// a shell; still, a leading '-' or whitespace can only be a mistake.
std::string RepositoryUrlProblem(absl::string_view url) {
  constexpr char kSchemes[] =
      "must start with https://, http://, ssh://, git:// or git@ and contain no spaces";
  if (HasSpaceOrControl(url)) return kSchemes;
  for (absl::string_view prefix : {"https://", "http://", "ssh://", "git://"})
    if (absl::StartsWith(url, prefix)) return url.size() > prefix.size() ? "" : kSchemes;
  if (!absl::ConsumePrefix(&url, "git@") || url.empty()) return kSchemes;
  // scp-like syntax (CEL '^git@[^/:]+:.'): git reads it so only with a colon
  // before the first '/'; git@host/path is a local path, the clone would look
  // for a directory of that name.
  const size_t colon = url.find_first_of(":/");
  if (colon == 0 || colon == absl::string_view::npos || url[colon] != ':' ||
      colon + 1 == url.size())
    return "needs a colon and a path after the host (git@github.com:org/repo.git); without one "
           "git reads a local path";
  return "";
}

bool ValidRepositoryUrl(absl::string_view url) { return RepositoryUrlProblem(url).empty(); }

// CRD pattern '^[^\s~^:?*\[\\]+$', plus what git check-ref-format refuses
// that the pattern lets through: "..", a leading '-'.
bool ValidBranch(absl::string_view b) {
  if (b.empty() || CharLength(b) > bounds::kBranch || b[0] == '-' || absl::StrContains(b, "..") ||
      HasSpaceOrControl(b))
    return false;
  for (char c : b)
    if (absl::string_view("~^:?*[\\").find(c) != absl::string_view::npos) return false;
  return true;
}

DeploymentMode EnvironmentSpec::Mode() const {
  if (deployment_mode) return *deployment_mode;
  return type == EnvironmentType::kDevelopment ? DeploymentMode::kDevelopment
                                               : DeploymentMode::kProduction;
}

const Source* EnvironmentSpec::WebSource() const {
  for (const Source& s : sources)
    if (s.name == "web") return &s;
  return sources.empty() ? nullptr : &sources.front();
}

absl::StatusOr<EnvironmentSpec> ParseEnvironment(const kube::Object& env) {
  Problems p;
  EnvironmentSpec out;
  out.name = std::string(env.Name());
  out.namespace_ = std::string(env.Namespace());
  out.uid = std::string(env.Uid());
  out.generation = env.Generation();
  if (out.name.empty()) p.Add("metadata.name is missing");
  if (out.namespace_.empty()) p.Add("metadata.namespace is missing");
  // Every managed object is labelled with it; the server always sets it.
  if (out.uid.empty()) p.Add("metadata.uid is missing");
  out.team = std::string(env.Label(kTeamLabel));
  out.project = std::string(env.Label(kProjectLabel));
  out.environment = std::string(env.Label(kEnvironmentLabel));

  const Value* spec = env.Find({"spec"});
  if (!spec || !spec->IsObject()) {
    p.Add("spec is required");
    return p.ToStatus();
  }
  if (const Value* ref = p.Obj(kube::Member(*spec, "projectRef"), "spec.projectRef"))
    out.project_ref = p.Str(kube::Member(*ref, "name"), "spec.projectRef.name", b::kName);

  const std::string type = p.Str(kube::Member(*spec, "type"), "spec.type", b::kLabel);
  if (type == "development") {
    out.type = EnvironmentType::kDevelopment;
  } else if (type == "deployment") {
    out.type = EnvironmentType::kDeployment;
  } else {
    p.Add(type.empty()
              ? "spec.type is required (development or deployment)"
              : absl::StrCat("spec.type \"", type, "\" is not one of development, deployment"));
  }
  const std::string mode =
      p.Str(kube::Member(*spec, "deploymentMode"), "spec.deploymentMode", b::kLabel);
  if (mode == "development") {
    out.deployment_mode = DeploymentMode::kDevelopment;
  } else if (mode == "production") {
    out.deployment_mode = DeploymentMode::kProduction;
  } else if (mode == "workspace") {
    out.deployment_mode = DeploymentMode::kWorkspace;
  } else if (!mode.empty()) {
    p.Add(absl::StrCat("spec.deploymentMode \"", mode,
                       "\" is not one of production, development, workspace"));
  }

  ParseSources(kube::Member(*spec, "sources"), p, out.sources);
  out.config = ParseConfig(kube::Member(*spec, "config"), "spec.config", p);

  if (!p.empty()) return p.ToStatus();
  return out;
}

}  // namespace v1alpha1

#include "controllers/environment.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace controllers {
namespace {

using rapidjson::Value;

// Collects every problem so one status update tells the user all of them.
class Problems {
 public:
  void Add(std::string msg) { msgs_.push_back(std::move(msg)); }
  bool empty() const { return msgs_.empty(); }
  absl::Status ToStatus() const { return absl::InvalidArgumentError(absl::StrJoin(msgs_, "; ")); }

  // The string at v (absent: empty). A non-string is a problem named by path.
  std::string Str(const Value* v, absl::string_view path) {
    if (!v || v->IsNull()) return "";
    if (!v->IsString()) {
      Add(absl::StrCat(path, " must be a string"));
      return "";
    }
    return std::string(v->GetString(), v->GetStringLength());
  }

 private:
  std::vector<std::string> msgs_;
};

bool HasSpaceOrControl(absl::string_view s) {
  for (unsigned char c : s)
    if (c <= ' ' || c == 0x7f) return true;
  return false;
}

// CRD pattern '^(https?://|ssh://|git://|git@)[^\s]+$'. The URL reaches git as
// a positional argument after "--", never through a shell; still, a leading
// '-' or whitespace can only be a mistake.
bool ValidRepositoryUrl(absl::string_view url) {
  for (absl::string_view prefix : {"https://", "http://", "ssh://", "git://", "git@"})
    if (absl::StartsWith(url, prefix) && url.size() > prefix.size()) return !HasSpaceOrControl(url);
  return false;
}

// CRD pattern '^[^\s~^:?*\[\\]+$', plus what git check-ref-format refuses
// that the pattern lets through: "..", a leading '-'.
bool ValidBranch(absl::string_view b) {
  if (b.empty() || b[0] == '-' || absl::StrContains(b, "..") || HasSpaceOrControl(b)) return false;
  for (char c : b)
    if (absl::string_view("~^:?*[\\").find(c) != absl::string_view::npos) return false;
  return true;
}

// CRD pattern '^[0-9a-f]{7,40}$'.
bool ValidCommitSha(absl::string_view s) {
  if (s.size() < 7 || s.size() > 40) return false;
  for (char c : s)
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  return true;
}

// CRD pattern '^[A-Za-z_][A-Za-z0-9_.-]*$' (kube-apiserver accepts a superset).
bool ValidEnvName(absl::string_view n) {
  if (n.empty() || !(absl::ascii_isalpha(n[0]) || n[0] == '_')) return false;
  for (char c : n)
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

void ParseSources(const Value* v, Problems& p, std::vector<Source>& out) {
  if (!v || v->IsNull()) return;
  if (!v->IsArray()) return p.Add("spec.sources must be a list");
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    const Value& item = (*v)[i];
    std::string path = absl::StrCat("spec.sources[", i, "]");
    if (!item.IsObject()) {
      p.Add(absl::StrCat(path, " must be an object"));
      continue;
    }
    Source s;
    s.name = p.Str(kube::Member(item, "name"), path + ".name");
    s.repository_url = p.Str(kube::Member(item, "repositoryUrl"), path + ".repositoryUrl");
    s.branch = p.Str(kube::Member(item, "branch"), path + ".branch");
    s.commit_sha = p.Str(kube::Member(item, "commitSha"), path + ".commitSha");
    if (s.name.empty()) p.Add(absl::StrCat(path, ".name is required"));
    if (!s.repository_url.empty() && !ValidRepositoryUrl(s.repository_url))
      p.Add(absl::StrCat(path, ".repositoryUrl \"", s.repository_url,
                         "\" must start with https://, http://, ssh://, git:// or git@ and contain "
                         "no spaces"));
    if (!s.branch.empty() && !ValidBranch(s.branch))
      p.Add(absl::StrCat(path, ".branch \"", s.branch, "\" is not a valid git branch name"));
    if (!s.commit_sha.empty() && !ValidCommitSha(s.commit_sha))
      p.Add(absl::StrCat(path, ".commitSha \"", s.commit_sha,
                         "\" must be 7 to 40 lowercase hex digits"));
    if (const Value* pr = kube::Member(item, "prNumber"); pr && !pr->IsNull()) {
      if (pr->IsInt64() && pr->GetInt64() >= 1)
        s.pr_number = pr->GetInt64();
      else
        p.Add(absl::StrCat(path, ".prNumber must be a positive integer"));
    }
    out.push_back(std::move(s));
  }
}

void ParseEnvVars(const Value* v, Problems& p, std::vector<EnvVar>& out) {
  if (!v || v->IsNull()) return;
  if (!v->IsArray()) return p.Add("spec.config.envVars must be a list");
  absl::flat_hash_set<std::string> seen;
  for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
    const Value& item = (*v)[i];
    std::string path = absl::StrCat("spec.config.envVars[", i, "]");
    if (!item.IsObject()) {
      p.Add(absl::StrCat(path, " must be an object"));
      continue;
    }
    EnvVar e;
    e.name = p.Str(kube::Member(item, "name"), path + ".name");
    e.value = p.Str(kube::Member(item, "value"), path + ".value");
    if (!ValidEnvName(e.name)) {
      p.Add(absl::StrCat(path, ".name \"", e.name,
                         "\" must start with a letter or '_' and contain only letters, digits, "
                         "'_', '.' and '-'"));
      continue;
    }
    // Server-side apply keys container env by name: a duplicate fails every apply.
    if (!seen.insert(e.name).second) {
      p.Add(absl::StrCat(path, ".name \"", e.name, "\" is listed more than once"));
      continue;
    }
    out.push_back(std::move(e));
  }
}

}  // namespace

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
  if (const Value* ref = kube::Member(*spec, "projectRef"); ref && ref->IsObject())
    out.project_ref = p.Str(kube::Member(*ref, "name"), "spec.projectRef.name");

  std::string type = p.Str(kube::Member(*spec, "type"), "spec.type");
  if (type == "development") {
    out.type = EnvironmentType::kDevelopment;
  } else if (type == "deployment") {
    out.type = EnvironmentType::kDeployment;
  } else {
    p.Add(type.empty()
              ? "spec.type is required (development or deployment)"
              : absl::StrCat("spec.type \"", type, "\" is not one of development, deployment"));
  }

  ParseSources(kube::Member(*spec, "sources"), p, out.sources);

  const Value* config = kube::Member(*spec, "config");
  if (config && !config->IsNull() && !config->IsObject()) {
    p.Add("spec.config must be an object");
    config = nullptr;
  }
  if (config) {
    out.image = p.Str(kube::Member(*config, "image"), "spec.config.image");
    if (HasSpaceOrControl(out.image))
      p.Add(absl::StrCat("spec.config.image \"", out.image, "\" must not contain spaces"));
    ParseEnvVars(kube::Member(*config, "envVars"), p, out.env_vars);
  }

  // PRODUCT.md "Reconciliation" 6: deployment runs config.image; development
  // clones a repository (the source named "web", else the first: a single
  // source needs no particular name).
  if (type == "deployment" && out.image.empty())
    p.Add("spec.config.image is required for type deployment");
  if (type == "development") {
    const Source* web = out.WebSource();
    if (!web)
      p.Add("spec.sources needs a source named \"web\" with a repositoryUrl for type development");
    else if (web->repository_url.empty())
      p.Add(absl::StrCat("spec.sources[", web - out.sources.data(),
                         "].repositoryUrl is required for type development (the repository the "
                         "web pod clones)"));
  }

  if (!p.empty()) return p.ToStatus();
  return out;
}

}  // namespace controllers

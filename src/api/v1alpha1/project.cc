#include "api/v1alpha1/project.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/v1alpha1/bounds.h"
#include "api/v1alpha1/environment.h"
#include "api/v1alpha1/problems.h"
#include "kube/quantity.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace v1alpha1 {
namespace {

namespace b = bounds;
using rapidjson::Value;

const Value* M(const Value* obj, absl::string_view key) {
  return obj ? kube::Member(*obj, key) : nullptr;
}

// A repository path field, normalized; a problem named after the field when
// it leaves the repository.
std::string PathField(const Value* v, const std::string& at, Problems& p) {
  const std::string raw = p.Str(v, at, b::kPath);
  std::optional<std::string> path = RepositoryPath(raw);
  if (!path) {
    p.Add(absl::StrCat(at, " \"", raw,
                       "\" must stay inside the repository (no .., no control characters)"));
    return "";
  }
  return *path;
}

bool DnsLabel(absl::string_view s) {
  return !s.empty() && s.size() <= 63 && absl::ascii_isalnum(s.front()) &&
         absl::ascii_isalnum(s.back()) && std::all_of(s.begin(), s.end(), [](char c) {
           return (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-');
         });
}

}  // namespace

std::optional<std::string> RepositoryPath(absl::string_view path) {
  std::vector<absl::string_view> kept;
  for (absl::string_view seg : absl::StrSplit(path, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") return std::nullopt;
    kept.push_back(seg);
  }
  if (std::any_of(path.begin(), path.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return std::nullopt;
  return absl::StrJoin(kept, "/");
}

const ProjectSource* ProjectSpec::FindSource(absl::string_view name) const {
  for (const ProjectSource& s : sources)
    if (s.name == name) return &s;
  return nullptr;
}

const Template* ProjectSpec::FindTemplate(absl::string_view type) const {
  auto it = templates.find(std::string(type));
  return it == templates.end() ? nullptr : &it->second;
}

absl::StatusOr<ProjectSpec> ParseProject(const kube::Object& project) {
  Problems p;
  ProjectSpec out;
  out.name = std::string(project.Name());
  out.namespace_ = std::string(project.Namespace());
  const Value* spec = p.Obj(project.Find({"spec"}), "spec");
  if (!spec) {
    p.Add("spec is required");
    return p.ToStatus();
  }
  p.ForEachObject(
      M(spec, "sources"), "spec.sources", b::kProjectSourceItems,
      [&](const Value& item, const std::string& at) {
        ProjectSource s{p.Str(M(&item, "name"), at + ".name", b::kLabel),
                        p.Str(M(&item, "repositoryUrl"), at + ".repositoryUrl", b::kUrl),
                        p.Str(M(&item, "branch"), at + ".branch", b::kBranch)};
        if (s.name.empty()) p.Add(at + ".name is required");
        if (std::string why = RepositoryUrlProblem(s.repository_url); !why.empty())
          p.Add(absl::StrCat(at, ".repositoryUrl \"", s.repository_url, "\" ", why));
        if (!s.branch.empty() && !ValidBranch(s.branch))
          p.Add(absl::StrCat(at, ".branch \"", s.branch, "\" is not a valid git branch name"));
        out.sources.push_back(std::move(s));
      });
  if (const Value* t = p.Map(M(spec, "templates"), "spec.templates", b::kTemplateProperties)) {
    for (const auto& m : t->GetObject()) {
      const std::string key(m.name.GetString(), m.name.GetStringLength());
      if (CharLength(key) > b::kLabel) {
        p.Add(absl::StrCat("spec.templates has a template name of ", CharLength(key),
                           " characters; at most ", b::kLabel));
        continue;
      }
      const std::string at = absl::StrCat("spec.templates.", key);
      const Value* item = p.Obj(&m.value, at);
      if (!item) continue;
      Template tmpl;
      tmpl.source_ref = p.Str(M(item, "sourceRef"), at + ".sourceRef", b::kLabel);
      tmpl.type = p.Str(M(item, "type"), at + ".type", b::kLabel);
      tmpl.path = PathField(M(item, "path"), at + ".path", p);
      p.ForEachObject(
          M(item, "builds"), at + ".builds", b::kBuildItems,
          [&](const Value& build, const std::string& bat) {
            Build bd{p.Str(M(&build, "name"), bat + ".name", b::kLabel),
                     p.Str(M(&build, "sourceRef"), bat + ".sourceRef", b::kLabel),
                     PathField(M(&build, "path"), bat + ".path", p),
                     PathField(M(&build, "dockerfile"), bat + ".dockerfile", p)};
            if (!DnsLabel(bd.name))
              p.Add(absl::StrCat(bat, ".name \"", bd.name,
                                 "\" must be a DNS label (lowercase letters, digits, '-')"));
            else if (std::any_of(tmpl.builds.begin(), tmpl.builds.end(),
                                 [&](const Build& o) { return o.name == bd.name; }))
              p.Add(absl::StrCat(bat, ".name \"", bd.name, "\" is used twice"));
            if (bd.dockerfile.empty()) bd.dockerfile = "Dockerfile";
            tmpl.builds.push_back(std::move(bd));
          });
      if (const Value* v = p.Map(M(item, "values"), at + ".values", b::kValuesProperties)) {
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        v->Accept(w);
        tmpl.values.assign(buf.GetString(), buf.GetSize());
        if (tmpl.values.size() > b::kValuesBytes)
          p.Add(absl::StrCat(at, ".values is ", tmpl.values.size(), " bytes; at most ",
                             b::kValuesBytes));
      } else {
        tmpl.values = "{}";
      }
      if (const Value* c = M(item, "config"); c && !c->IsNull())
        tmpl.config = ParseConfig(c, at + ".config", p);
      out.templates.emplace(key, std::move(tmpl));
    }
  }
  const Value* quota = M(p.Obj(M(spec, "resources"), "spec.resources"), "defaultQuota");
  if (const Value* q = p.Obj(quota, "spec.resources.defaultQuota")) {
    out.quota_cpu = ParseQuantity(M(q, "cpu"), "spec.resources.defaultQuota.cpu", p);
    out.quota_memory = ParseQuantity(M(q, "memory"), "spec.resources.defaultQuota.memory", p);
  }
  out.github_installation_id =
      p.Str(M(spec, "githubInstallationId"), "spec.githubInstallationId", b::kInstallationId);
  // A path segment of the web app's URL (GET /api/git-token/<id>, git_clone.h):
  // digits or "pat" only, so that no id names another endpoint ("../internal/...").
  if (const std::string& id = out.github_installation_id;
      !id.empty() && id != "pat" && !std::all_of(id.begin(), id.end(), absl::ascii_isdigit))
    p.Add(absl::StrCat("spec.githubInstallationId \"", id, "\" must be a number or pat"));
  if (!p.empty()) return p.ToStatus();
  return out;
}

}  // namespace v1alpha1

// The Catalyst web app's requests as e2e tests send them (docs/contract.md,
// "What the web app does"): a team and its project namespaces, the Project
// (create, or on 409 GET and PUT whole), the Environment and its id annotation.
#pragma once

#include <cctype>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "e2e/harness.h"
#include "kube/object.h"
#include "support/catalyst.h"

namespace e2e {

// A random decimal number below 2^24, for names and ids of one test.
std::string Random();

// A team and a project as the web app sets them up: the team namespace
// sanitize(team), the project namespace gen(team, project).
// A name as a label value: sanitized, at most 63 characters.
inline std::string LabelValue(absl::string_view name) {
  std::string v = testing_support::WebAppSanitize(name).substr(0, 63);
  while (!v.empty() && v.back() == '-') v.pop_back();
  return v;
}

struct Team {
  explicit Team(std::string team_name, std::string project_name = "Catalyst")
      : team(std::move(team_name)),
        project(std::move(project_name)),
        // Labelled as the web app's ensureTeamNamespace / ensureProjectNamespace do.
        team_ns(TestNamespace::Exact{}, testing_support::WebAppSanitize(team),
                absl::StrCat(R"("catalyst.dev/team":")", LabelValue(team),
                             R"(","catalyst.dev/namespace-type":"team")")),
        project_ns(TestNamespace::Exact{}, testing_support::WebAppNamespace({team, project}),
                   absl::StrCat(R"("catalyst.dev/team":")", LabelValue(team),
                                R"(","catalyst.dev/project":")", LabelValue(project),
                                R"(","catalyst.dev/namespace-type":"project")")) {}
  // The Project CR's name: sync-project-cr.ts lowercases and replaces what is
  // not [a-z0-9-] (no collapse, no trim).
  std::string ProjectName() const {
    std::string out;
    for (char c : project) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.push_back((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ? c : '-');
    }
    return out;
  }
  testing_support::ProjectFields Project(
      std::string repo = "https://github.com/acme/catalyst") const {
    testing_support::ProjectFields p;
    p.name = ProjectName();
    p.team = team;
    p.repository_url = std::move(repo);
    return p;
  }
  testing_support::EnvironmentFields Environment(std::string name) const {
    testing_support::EnvironmentFields e;
    e.name = std::move(name);
    e.ns = project_ns.name();
    e.team = team;
    e.project = ProjectName();
    return e;
  }

  std::string team, project;
  TestNamespace team_ns, project_ns;
};

// createProjectCR, and on 409 updateProjectCR: GET, replace the spec, PUT whole.
void SyncProject(const testing_support::ProjectFields& p);
// createEnvironmentCR, then patchEnvironmentCRAnnotations: annotation
// catalyst.dev/environment-id = id.
void CreateEnvironment(const testing_support::EnvironmentFields& e, const std::string& id);
inline void CreateEnvironment(const testing_support::EnvironmentFields& e) {
  CreateEnvironment(e, "env-" + Random());
}
// "status/reason/message" of a condition, "" when absent.
std::string Condition(const kube::Object& env, absl::string_view type);

}  // namespace e2e

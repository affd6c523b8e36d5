// RenderRequest and RenderOutcome: what the planner asks of the chart
// renderer (render_sync.h) for an Environment in helm mode, and what it last
// heard back (docs/development.md, "Deployment templates").
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "controllers/environment/rendered.h"
#include "kube/object.h"

namespace controllers {

struct RenderRequest {
  std::string type = "helm";  // helm | docker-compose (docs/contract.md, "Project")
  std::string env_key;        // "<namespace>/<name>" of the Environment
  std::string ns;             // the environment namespace (helm --namespace; the token's namespace)
  std::string release;        // the Environment's name
  std::string url, branch, commit, chart_path;  // as ChartSource (chart_render.h)
  std::string values_json;                      // the template's values
  std::string installation_id;                  // empty: an anonymous clone
  // Compose: the template builds' images by build name, "<repository>@<digest>"
  // (a chart reads them from values_json's global.images).
  std::vector<std::pair<std::string, std::string>> images;
  // Compose: what the namespace asks of every pod (compose.h, ComposeInput):
  // the CPU limit a container without one gets ("" when the quota has no
  // limits.cpu), and whether pods name the pull credentials.
  std::string default_cpu_limit;
  bool pull_secret = false;
  // Hex SHA-256 of every field but env_key, in a fixed order, each prefixed
  // by its length (no two requests share one by moving a boundary);
  // defined in render_sync.cc.
  std::string Digest() const;
};

struct RenderOutcome {
  std::string digest;                   // the request this answers
  absl::Status status;                  // OK, or why the render failed (safe to show: no token)
  std::string commit;                   // the sha rendered (OK only)
  std::vector<RenderedObject> objects;  // ConfineRendered's output (OK only)
  // Set when this outcome is replaced or dropped (the pass memo's check).
  std::shared_ptr<const kube::CacheMark> mark = std::make_shared<const kube::CacheMark>();
};

}  // namespace controllers

// Requests to the Catalyst web app (docs/contract.md, "Private repositories
// and the team's secrets"): the team's secrets (secrets_sync.h) and the git
// token (git_token.h). One place builds them, so both endpoints sit under the
// web URL's path alike.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kube/transport.h"

namespace controllers {

// GET <the web URL's path><endpoint><param>, param one path segment
// (percent-encoded but for RFC 3986's unreserved characters): the web app may
// be served under a prefix (http://host/catalyst). The web transport holds the
// URL's scheme and authority (manager.cc), the request only the path.
// endpoint: "/api/git-token/", "/api/internal/secrets/".
kube::HttpRequest WebAppGet(absl::string_view web_url, absl::string_view endpoint,
                            absl::string_view param, absl::Duration timeout);

}  // namespace controllers

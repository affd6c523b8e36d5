// Egress: what an environment's pods may reach outside the cluster
// (docs/contract.md, "Tenant isolation"). "Anywhere" is every address but the
// link-local ranges (cloud metadata: 169.254.169.254; an IPv6 metadata address
// such as AWS's fd00:ec2::254 is the platform's to list) and the CIDRs the
// platform names; a repository URL may only name one of the platform's git ports.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace controllers {

// The ranges excepted from 0.0.0.0/0 and ::/0, each canonical (host bits
// cleared: the API server refuses an except outside its cidr).
struct EgressExcept {
  std::vector<std::string> v4 = {"169.254.0.0/16"};
  std::vector<std::string> v6 = {"fe80::/10"};
};

// The link-local ranges plus `cidrs` (comma-separated, IPv4 or IPv6).
absl::StatusOr<EgressExcept> ParseEgressExcept(absl::string_view cidrs);

// The comma-separated TCP ports a repository URL may name.
absl::StatusOr<std::vector<int>> ParseGitPorts(absl::string_view ports);

// The TCP port git talks to for url: 443 https, 80 http, 9418 git://, 22
// ssh:// and scp-like user@host:path, or the URL's own port; 0 for none.
int GitPort(absl::string_view url);

}  // namespace controllers

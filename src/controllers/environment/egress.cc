#include "controllers/environment/egress.h"

#include <arpa/inet.h>

#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace controllers {
namespace {

// "a.b.c.d/n" or "x::y/n" with the host bits cleared; false when either half is bad.
bool CanonicalCidr(absl::string_view cidr, std::string* out, bool* v6) {
  std::vector<std::string> parts = absl::StrSplit(cidr, '/');
  int bits = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &bits)) return false;
  unsigned char addr[16] = {};
  *v6 = absl::StrContains(parts[0], ':');
  const int family = *v6 ? AF_INET6 : AF_INET;
  const int max = *v6 ? 128 : 32;
  if (bits < 0 || bits > max || inet_pton(family, parts[0].c_str(), addr) != 1) return false;
  for (int i = 0; i < max / 8; ++i) {
    const int keep = std::min(8, std::max(0, bits - i * 8));
    addr[i] &= static_cast<unsigned char>(0xff00 >> keep);
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (!inet_ntop(family, addr, text, sizeof text)) return false;
  *out = absl::StrCat(text, "/", bits);
  return true;
}

}  // namespace

absl::StatusOr<EgressExcept> ParseEgressExcept(absl::string_view cidrs) {
  EgressExcept out;
  for (absl::string_view c : absl::StrSplit(cidrs, ',', absl::SkipWhitespace())) {
    c = absl::StripAsciiWhitespace(c);
    std::string canonical;
    bool v6 = false;
    if (!CanonicalCidr(c, &canonical, &v6))
      return absl::InvalidArgumentError(
          absl::StrCat("egress_except_cidrs: \"", c, "\" is not a CIDR (a.b.c.d/n or x::y/n)"));
    // A /0 would except everything: the platform wants no egress at all then.
    if (absl::EndsWith(canonical, "/0"))
      return absl::InvalidArgumentError(
          absl::StrCat("egress_except_cidrs: \"", c, "\" excepts every address"));
    (v6 ? out.v6 : out.v4).push_back(std::move(canonical));
  }
  return out;
}

absl::StatusOr<std::vector<int>> ParseGitPorts(absl::string_view ports) {
  std::vector<int> out;
  for (absl::string_view p : absl::StrSplit(ports, ',', absl::SkipWhitespace())) {
    int port = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(p), &port) || port < 1 || port > 65535)
      return absl::InvalidArgumentError(
          absl::StrCat("git_ports: \"", p, "\" is not a TCP port (1-65535)"));
    out.push_back(port);
  }
  if (out.empty()) return absl::InvalidArgumentError("git_ports: name at least one port");
  return out;
}

int GitPort(absl::string_view url) {
  int port = 0;
  absl::string_view rest = url;
  for (const auto& [scheme, p] : {std::pair<absl::string_view, int>{"https://", 443},
                                  {"http://", 80},
                                  {"git://", 9418},
                                  {"ssh://", 22}})
    if (absl::ConsumePrefix(&rest, scheme)) port = p;
  if (port == 0) return absl::StrContains(url.substr(0, url.find('/')), "@") ? 22 : 0;
  // [user@]host[:port] up to the path, query or fragment, as curl reads a URL
  // (https://host:2379?/x connects to 2379).
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = authority.rfind('@'); at != absl::string_view::npos)
    authority = authority.substr(at + 1);
  int explicit_port = 0;
  if (size_t colon = authority.rfind(':');
      colon != absl::string_view::npos && authority.find(']', colon) == absl::string_view::npos &&
      absl::SimpleAtoi(authority.substr(colon + 1), &explicit_port) && explicit_port > 0 &&
      explicit_port < 65536)
    return explicit_port;
  return port;
}

}  // namespace controllers

#include "controllers/environment/web_app.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace controllers {
namespace {

// The path part of the web URL, no trailing slash.
std::string PathPrefix(absl::string_view url) {
  if (size_t s = url.find("://"); s != absl::string_view::npos) url.remove_prefix(s + 3);
  const size_t slash = url.find('/');
  if (slash == absl::string_view::npos) return "";
  std::string path(url.substr(slash));
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

// A path segment: RFC 3986 unreserved characters as they are, the rest %XX.
std::string PathEscape(absl::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
      out += static_cast<char>(c);
    else
      absl::StrAppend(&out, "%", absl::string_view("0123456789ABCDEF" + (c >> 4), 1),
                      absl::string_view("0123456789ABCDEF" + (c & 15), 1));
  }
  return out;
}

}  // namespace

kube::HttpRequest WebAppGet(absl::string_view web_url, absl::string_view endpoint,
                            absl::string_view param, absl::Duration timeout) {
  kube::HttpRequest req;
  req.method = "GET";
  req.path = absl::StrCat(PathPrefix(web_url), endpoint, PathEscape(param));
  req.timeout = timeout;
  return req;
}

}  // namespace controllers

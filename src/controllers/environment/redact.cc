#include "controllers/environment/redact.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/team_secrets.h"
#include "kube/resource.h"
#include "util/utf8.h"

namespace controllers {
namespace {

using Range = std::pair<size_t, size_t>;  // [begin, end) of the text to replace

bool In(absl::string_view chars, char c) { return chars.find(c) != absl::string_view::npos; }
bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }
bool IsBase64Url(char c) { return IsAlnum(c) || c == '_' || c == '-'; }
bool IsKeyChar(char c) { return IsAlnum(c) || c == '_' || c == '-' || c == '.'; }
// RFC 6750's b64token: what follows "Bearer ".
bool IsTokenChar(char c) {
  return IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

// Where a run of characters satisfying pred ends, from pos on.
template <typename Pred>
size_t RunEnd(absl::string_view s, size_t pos, Pred pred) {
  while (pos < s.size() && pred(s[pos])) ++pos;
  return pos;
}

// Every occurrence of needle, as a start offset.
template <typename F>
void ForEach(absl::string_view s, absl::string_view needle, F f) {
  for (size_t p = s.find(needle); p != absl::string_view::npos; p = s.find(needle, p + 1)) f(p);
}

// Not glued to the end of a longer word (the start of a token).
bool WordStart(absl::string_view s, size_t p) { return p == 0 || !IsAlnum(s[p - 1]); }

// scheme://userinfo@host: the userinfo, up to the authority's last '@'
// (a password may hold one; the authority ends at the first '/', '?', '#').
void Userinfo(absl::string_view s, std::vector<Range>& out) {
  ForEach(s, "://", [&](size_t p) {
    if (p == 0 || !absl::ascii_isalpha(static_cast<unsigned char>(s[p - 1]))) return;
    const size_t begin = p + 3;
    size_t end = begin;
    while (end < s.size() && !absl::ascii_isspace(static_cast<unsigned char>(s[end])) &&
           !In("/?#\"'`<>", s[end]))
      ++end;
    const size_t at = s.substr(begin, end - begin).rfind('@');
    if (at == absl::string_view::npos || at == 0) return;
    // ssh://git@host is how every ssh clone URL names its user: no secret.
    if (s.substr(begin, at) == "git") return;
    out.emplace_back(begin, begin + at);
  });
}

// A fixed prefix followed by at least min characters of a class. The search
// goes on after the run: an occurrence inside it ("github_pat_github_pat_...")
// is part of it, and scanning each again would take quadratic time.
template <typename Pred>
void Prefixed(absl::string_view s, absl::string_view prefix, size_t min, Pred pred,
              std::vector<Range>& out) {
  for (size_t p = s.find(prefix); p != absl::string_view::npos;) {
    size_t next = p + 1;
    if (WordStart(s, p)) {
      const size_t end = RunEnd(s, p + prefix.size(), pred);
      if (end - (p + prefix.size()) >= min) out.emplace_back(p, end);
      next = std::max(next, end);
    }
    p = s.find(prefix, next);
  }
}

// GitHub's and GitLab's token formats, AWS access key ids.
void Tokens(absl::string_view s, std::vector<Range>& out) {
  for (absl::string_view prefix : {"ghp_", "gho_", "ghs_", "ghu_", "ghr_"})
    Prefixed(s, prefix, 20, IsAlnum, out);
  Prefixed(
      s, "github_pat_", 20, [](char c) { return IsAlnum(c) || c == '_'; }, out);
  Prefixed(s, "glpat-", 20, IsBase64Url, out);
  for (absl::string_view prefix : {"AKIA", "ASIA"})
    ForEach(s, prefix, [&](size_t p) {
      if (!WordStart(s, p)) return;
      // 16 characters exactly: no more than 17 are looked at.
      size_t end = p + 4;
      while (end < s.size() && end < p + 21 &&
             (absl::ascii_isupper(s[end]) || absl::ascii_isdigit(s[end])))
        ++end;
      if (end - p == 20 && (end == s.size() || !IsAlnum(s[end]))) out.emplace_back(p, end);
    });
}

// header.payload.signature, both JSON objects ("eyJ" is base64 of '{"').
void Jwts(absl::string_view s, std::vector<Range>& out) {
  ForEach(s, "eyJ", [&](size_t p) {
    if (p > 0 && IsBase64Url(s[p - 1])) return;
    const size_t dot1 = RunEnd(s, p, IsBase64Url);
    if (dot1 >= s.size() || s[dot1] != '.' || !absl::StartsWith(s.substr(dot1 + 1), "eyJ")) return;
    const size_t dot2 = RunEnd(s, dot1 + 1, IsBase64Url);
    if (dot2 >= s.size() || s[dot2] != '.') return;
    out.emplace_back(p, RunEnd(s, dot2 + 1, IsBase64Url));
  });
}

// "Bearer <token>", case-insensitive. A token has a digit or a symbol: a
// run of letters is English ("Bearer authentication required").
void Bearer(absl::string_view s, std::vector<Range>& out) {
  const std::string lower = absl::AsciiStrToLower(s);
  ForEach(lower, "bearer", [&](size_t p) {
    if (!WordStart(s, p)) return;
    const size_t begin = RunEnd(s, p + 6, [](char c) { return c == ' ' || c == '\t'; });
    if (begin == p + 6) return;
    size_t end = RunEnd(s, begin, IsTokenChar);
    const bool letters_only = std::all_of(s.begin() + begin, s.begin() + end,
                                          [](char c) { return absl::ascii_isalpha(c); });
    end = RunEnd(s, end, [](char c) { return c == '='; });
    if (end - begin >= 8 && !letters_only) out.emplace_back(begin, end);
  });
}

// The body of -----BEGIN ... PRIVATE KEY----- ... -----END ... PRIVATE KEY-----.
// A block cut by the log tail's budget has only one of the two lines: from
// its BEGIN to the end of the text, or from the start of the text to its END.
// One pass: each marker is searched for once, from after the last one.
void PrivateKeys(absl::string_view s, std::vector<Range>& out) {
  constexpr absl::string_view kDashes = "-----", kBegin = "-----BEGIN ", kEnd = "-----END ";
  constexpr size_t npos = absl::string_view::npos;
  size_t from = 0;  // where an END without a BEGIN before it starts the block
  size_t begin = s.find(kBegin), end_marker = s.find(kEnd);
  while (begin != npos || end_marker != npos) {
    if (end_marker < begin) {  // an END first: the BEGIN was cut off
      const size_t line_end = s.find(kDashes, end_marker + kEnd.size());
      if (line_end != npos &&
          absl::StrContains(s.substr(end_marker, line_end - end_marker), "PRIVATE KEY"))
        out.emplace_back(from, end_marker);
      if (line_end == npos) return;
      from = line_end + kDashes.size();
      end_marker = s.find(kEnd, from);
      continue;
    }
    const size_t header_end = s.find(kDashes, begin + kBegin.size());
    if (header_end == npos) return;
    const bool is_key = absl::StrContains(s.substr(begin, header_end - begin), "PRIVATE KEY");
    const size_t body = header_end + kDashes.size();
    if (end_marker < body) end_marker = s.find(kEnd, body);
    if (is_key) out.emplace_back(body, end_marker == npos ? s.size() : end_marker);
    if (end_marker == npos) return;
    const size_t close_end = s.find(kDashes, end_marker + kEnd.size());
    if (close_end == npos) return;
    from = close_end + kDashes.size();
    begin = s.find(kBegin, from);
    end_marker = s.find(kEnd, from);
  }
}

// A key naming a secret: DB_PASSWORD, client_secret, GITHUB_TOKEN, apiKey,
// --password, PGPASS, MYSQL_PWD.
bool SecretKey(absl::string_view key) {
  const std::string k = absl::AsciiStrToLower(key);
  for (absl::string_view word :
       {"password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "accesskey",
        "access_key", "privatekey", "private_key", "credential"})
    if (absl::StrContains(k, word)) return true;
  for (absl::string_view part : absl::StrSplit(k, absl::ByAnyChar("_-."), absl::SkipEmpty()))
    if (part == "pass" || part == "pwd" || part == "pgpass") return true;
  return false;
}

// key=value, key = "value", "key": "value", key: 'value'. After ':' only a
// quoted value counts: "Unexpected token: punc" is a parser's message (and
// so a YAML dump's "password: x" is missed).
void KeyValues(absl::string_view s, std::vector<Range>& out) {
  for (size_t sep = 0; sep < s.size(); ++sep) {
    if (s[sep] != '=' && s[sep] != ':') continue;
    size_t key_end = sep;
    while (key_end > 0 && s[key_end - 1] == ' ') --key_end;
    if (key_end > 0 && (s[key_end - 1] == '"' || s[key_end - 1] == '\'')) --key_end;
    size_t key_begin = key_end;
    while (key_begin > 0 && IsKeyChar(s[key_begin - 1])) --key_begin;
    if (key_begin == key_end || !SecretKey(s.substr(key_begin, key_end - key_begin))) continue;
    size_t v = sep + 1;
    while (v < s.size() && s[v] == ' ') ++v;
    if (v >= s.size()) continue;
    size_t begin = v, end;
    if (s[v] == '"' || s[v] == '\'' || s[v] == '`') {
      begin = v + 1;
      end = begin;
      while (end < s.size() && s[end] != s[v] && s[end] != '\n') ++end;
    } else {
      // After ':' a string is quoted; JSON's null, a number, an object is no secret.
      if (s[sep] == ':') continue;
      end = begin;
      while (end < s.size() && !absl::ascii_isspace(static_cast<unsigned char>(s[end])) &&
             !In("&,;\"'`<>()[]{}", s[end]))
        ++end;
      // "[" stops the run: password=[redacted] stays as it is.
    }
    if (end > begin) out.emplace_back(begin, end);
    // On after the value: a separator inside it is no pair of its own, and
    // scanning from each would take quadratic time (password="password="...).
    sep = std::max(sep, end);
  }
}

// The borders of p (Knuth-Morris-Pratt): b[i] is the length of the longest
// proper prefix of p[0..i] that is also its suffix.
std::vector<uint32_t> Borders(absl::string_view p) {
  std::vector<uint32_t> b(p.size(), 0);
  for (size_t i = 1, k = 0; i < p.size(); ++i) {
    while (k > 0 && p[i] != p[k]) k = b[k - 1];
    if (p[i] == p[k]) ++k;
    b[i] = static_cast<uint32_t>(k);
  }
  return b;
}

// Finds p (borders b) in text in linear time, whatever both hold: calls
// match(end) at the end of each occurrence; returns the length of the
// longest prefix of p that ends the text.
template <typename F>
size_t Scan(absl::string_view text, absl::string_view p, const std::vector<uint32_t>& b, F match) {
  size_t k = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    while (k > 0 && (k == p.size() || text[i] != p[k])) k = b[k - 1];
    if (text[i] == p[k]) ++k;
    if (k == p.size()) match(i + 1);
  }
  return k;
}

// A piece of a known value at the start or the end of the text must be this
// long: shorter ones are as likely chance as a cut secret.
constexpr size_t kMinPiece = 8;

// A value as a URL would carry it (a DATABASE_URL's password): RFC 3986's
// unreserved characters as they are, every other byte %XX (%2F or %2f: both
// are seen).
std::string PercentEncoded(absl::string_view v, bool upper) {
  std::string out;
  for (char c : v) {
    if (IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      std::string hex = absl::BytesToHexString(absl::string_view(&c, 1));
      absl::StrAppend(&out, "%", upper ? absl::AsciiStrToUpper(hex) : hex);
    }
  }
  return out;
}

}  // namespace

Redactor::Redactor(const std::vector<std::string>& known_values) {
  std::vector<std::string> values;
  for (const std::string& v : known_values) {
    if (v.size() < kMinSecretLength || absl::StrContains(kRedacted, v)) continue;
    values.push_back(v);
    if (std::string encoded = PercentEncoded(v, false); encoded != v) {
      values.push_back(std::move(encoded));
      values.push_back(PercentEncoded(v, true));
    }
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  for (std::string& v : values) {
    std::vector<uint32_t> borders = Borders(v);
    known_.emplace_back(std::move(v), std::move(borders));
  }
}

const Redactor& Redactor::PatternsOnly() {
  static const Redactor* const r = new Redactor();
  return *r;
}

std::string Redactor::Redact(absl::string_view text) const {
  std::vector<Range> ranges;
  if (!known_.empty() && !text.empty()) {
    const std::vector<uint32_t> text_borders = Borders(text);
    for (const auto& [value, borders] : known_) {
      // Clang 14 cannot capture a structured binding in a lambda.
      const size_t size = value.size();
      const size_t at_end =
          Scan(text, value, borders, [&](size_t end) { ranges.emplace_back(end - size, end); });
      if (at_end >= kMinPiece) ranges.emplace_back(text.size() - at_end, text.size());
      // The longest prefix of the text that ends the value: what a cut left of it.
      const size_t at_start = Scan(value, text, text_borders, [](size_t) {});
      if (at_start >= kMinPiece) ranges.emplace_back(0, at_start);
    }
  }
  Userinfo(text, ranges);
  Tokens(text, ranges);
  Jwts(text, ranges);
  Bearer(text, ranges);
  PrivateKeys(text, ranges);
  KeyValues(text, ranges);
  if (ranges.empty()) return std::string(text);
  // Overlapping or touching ranges become one marker.
  std::sort(ranges.begin(), ranges.end());
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i < ranges.size();) {
    auto [begin, end] = ranges[i];
    for (++i; i < ranges.size() && ranges[i].first <= end; ++i)
      end = std::max(end, ranges[i].second);
    absl::StrAppend(&out, text.substr(copied, begin - copied), kRedacted);
    copied = end;
  }
  absl::StrAppend(&out, text.substr(copied));
  return out;
}

std::vector<std::string> SecretValuesOf(const ClusterState& state, absl::string_view ns,
                                        const std::string& env_key) {
  std::vector<std::string> encoded;
  for (absl::string_view name : {kDbSecretName, kTeamSecretName})
    if (auto secret = state.Get(kube::resources::kSecrets, ns, name))
      if (const auto* data = secret->Find({"data"}); data && data->IsObject())
        for (const auto& kv : data->GetObject()) encoded.emplace_back(kube::StrOf(&kv.value));
  if (auto team = state.Secrets(env_key); team && team->data)
    for (const auto& [key, value] : *team->data) encoded.push_back(value);
  std::vector<std::string> out;
  for (const std::string& e : encoded) {
    std::string value;
    if (!absl::Base64Unescape(e, &value) || value.size() < kMinSecretLength) continue;
    if (absl::StrContains(value, '\n'))
      for (absl::string_view line : absl::StrSplit(value, '\n'))
        if (line = absl::StripAsciiWhitespace(line); line.size() >= kMinSecretLength)
          out.emplace_back(line);
    out.push_back(std::move(value));
  }
  return out;
}

std::string CapMessage(absl::string_view message, size_t max) {
  return util::CutUtf8(message, max);
}

}  // namespace controllers

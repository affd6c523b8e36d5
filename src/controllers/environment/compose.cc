#include "controllers/environment/compose.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/v1alpha1/config.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/rendered.h"
#include "kube/json_builder.h"
#include "kube/quantity.h"
#include "util/utf8.h"

namespace controllers {
namespace {

using kube::J;

constexpr size_t kMaxBytes = 256 << 10;
constexpr size_t kMaxValues = 100'000;  // after aliases are expanded
constexpr size_t kMaxText = 4 << 20;    // bytes of scalars and keys, after aliases
constexpr size_t kMaxDepth = 64;
constexpr int kMaxDocuments = 64;  // empty ones included
constexpr size_t kMaxServices = 32;
// Per container: what a real service needs many times over, and what keeps
// the output far below the confinement's bounds.
constexpr size_t kMaxEnv = 1000;
constexpr size_t kMaxMounts = 64;
constexpr size_t kMaxPorts = 64;
constexpr int64_t kMaxBackoff = 100;  // on-failure:N
constexpr int64_t kMaxReplicas = 10;
constexpr char kNameLabel[] = "app.kubernetes.io/name";
// The namespace's quota counts these: every container sets them.
constexpr int64_t kDefaultCpuMillis = 100;
constexpr int64_t kDefaultMemoryMi = 512;

// Text from the file in a message: escaped (no newline or invalid UTF-8
// reaches a status) and cut.
std::string Shown(absl::string_view s, size_t max = 80) {
  const absl::string_view head = util::Utf8Prefix(s, max);
  return absl::StrCat("\"", absl::CHexEscape(head), head.size() < s.size() ? "...\"" : "\"");
}

// ---- The YAML, as a tree with merge keys applied and its size bounded ----

// A mapping's entry is a struct of its own, defined after Node: a
// std::pair<std::string, Node> inside Node is an incomplete type to clang
// with libstdc++ (the fuzz build).
struct Member;

struct Node {
  enum Kind { kNull, kScalar, kSeq, kMap } kind = kNull;
  std::string text;             // kScalar
  std::vector<Node> items;      // kSeq
  std::vector<Member> members;  // kMap, in the file's order
  int line = 0;                 // 1-based, for messages

  const Node* Get(absl::string_view key) const;
  bool Has(absl::string_view key) const { return Get(key) != nullptr; }
};

struct Member {
  std::string key;
  Node value;
};

const Node* Node::Get(absl::string_view key) const {
  for (const auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}

// Thrown by the event handler to stop yaml-cpp at once (an alias bomb is not
// parsed to its end); caught in ConvertCompose, never leaves this file.
struct Stop {
  absl::StatusCode code;
  std::string message;
};

int LineOf(const YAML::Mark& mark) { return mark.is_null() ? 0 : mark.line + 1; }

// Builds the document's tree from yaml-cpp's events (not YAML::LoadAll, whose
// loop never ends on a token its parser cannot place, such as a leading `,`,
// and grows its list of documents until memory runs out). Each alias is a
// copy, counted again, so an alias bomb stops at the bound; an anchored node
// is counted once more for the copy kept of it.
class TreeBuilder final : public YAML::EventHandler {
 public:
  bool has_root() const { return has_root_; }
  Node& root() { return root_; }
  // Where the document's first node was: yaml-cpp reports a token it cannot
  // place as a null document at that token without consuming it.
  const YAML::Mark& first_mark() const { return first_mark_; }

  void Reset() {
    stack_.clear();
    anchors_.clear();
    root_ = Node();
    has_root_ = false;
    first_mark_ = YAML::Mark::null_mark();
  }

  void OnDocumentStart(const YAML::Mark& /*mark*/) override { Reset(); }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Saw(mark);
    Count(1, 0);
    if (ExpectingKey()) Fail(mark, "a mapping key that is not a string");
    Node n;
    n.line = LineOf(mark);
    Record(anchor, n, 1, 0, 0);
    Place(mark, std::move(n), 0);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& text) override {
    Saw(mark);
    Count(1, text.size());
    if (ExpectingKey()) {
      // `<<: *base` (YAML 1.1's merge key, which compose honours): plain only.
      SetKey(mark, text, tag == "?" && text == "<<");
      if (anchor != 0) {
        Node n;
        n.kind = Node::kScalar;
        n.text = text;
        n.line = LineOf(mark);
        Record(anchor, n, 1, text.size(), 0);
      }
      return;
    }
    Node n;
    n.kind = Node::kScalar;
    n.text = text;
    n.line = LineOf(mark);
    Record(anchor, n, 1, text.size(), 0);
    Place(mark, std::move(n), 0);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Saw(mark);
    if (anchor >= anchors_.size() || !anchors_[anchor].done)
      Fail(mark, "an alias inside the node its anchor names", absl::StatusCode::kResourceExhausted);
    const Anchored& a = anchors_[anchor];
    Count(a.values, a.text);
    CheckDepth(mark, stack_.size() + a.height);
    if (ExpectingKey()) {
      if (a.node.kind != Node::kScalar) Fail(mark, "a mapping key that is not a string");
      SetKey(mark, a.node.text, false);
      return;
    }
    Node copy = a.node;
    copy.line = LineOf(mark);
    Place(mark, std::move(copy), a.height);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    Open(mark, anchor, Node::kSeq);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    Open(mark, anchor, Node::kMap);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    Node node;
    YAML::Mark mark;
    YAML::anchor_t anchor = 0;
    size_t values_at = 0, text_at = 0;  // the counters when it opened
    size_t height = 0;                  // of its tallest child
    // Mappings: the key whose value comes next, the keys so far, and the
    // `<<` merges, applied when the mapping closes.
    bool have_key = false, merge = false;
    std::string key;
    absl::flat_hash_set<std::string> keys;
    std::vector<Node> merges;
  };
  struct Anchored {
    Node node;
    size_t values = 0, text = 0, height = 0;
    bool done = false;
  };

  [[noreturn]] static void Fail(const YAML::Mark& mark, absl::string_view why,
                                absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
    throw Stop{code, absl::StrCat("line ", LineOf(mark), ": ", why)};
  }

  void Saw(const YAML::Mark& mark) {
    if (first_mark_.is_null()) first_mark_ = mark;
  }

  void Count(size_t values, size_t text) {
    values_ += values;
    text_ += text;
    if (values_ > kMaxValues)
      throw Stop{absl::StatusCode::kResourceExhausted,
                 absl::StrCat("the file expands to more than ", kMaxValues,
                              " values (each alias counts what it repeats)")};
    if (text_ > kMaxText)
      throw Stop{absl::StatusCode::kResourceExhausted,
                 absl::StrCat("the file expands to more than ", kMaxText,
                              " bytes of text (each alias counts what it repeats)")};
  }

  void CheckDepth(const YAML::Mark& mark, size_t depth) const {
    if (depth > kMaxDepth)
      Fail(mark, absl::StrCat("values nest deeper than ", kMaxDepth),
           absl::StatusCode::kResourceExhausted);
  }

  bool ExpectingKey() const {
    return !stack_.empty() && stack_.back().node.kind == Node::kMap && !stack_.back().have_key;
  }

  void SetKey(const YAML::Mark& mark, const std::string& key, bool merge) {
    Frame& f = stack_.back();
    f.have_key = true;
    f.merge = merge;
    if (merge) return;
    if (!f.keys.insert(key).second) Fail(mark, absl::StrCat("duplicate key ", Shown(key)));
    f.key = key;
  }

  // The copy kept for aliases costs what it holds once more.
  void Record(YAML::anchor_t anchor, const Node& n, size_t values, size_t text, size_t height) {
    if (anchor == 0) return;
    Count(values, text);
    if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
    Anchored& a = anchors_[anchor];
    a.node = n;
    a.values = values;
    a.text = text;
    a.height = height;
    a.done = true;
  }

  void Open(const YAML::Mark& mark, YAML::anchor_t anchor, Node::Kind kind) {
    Saw(mark);
    Count(1, 0);
    if (ExpectingKey()) Fail(mark, "a mapping key that is not a string");
    CheckDepth(mark, stack_.size() + 1);
    if (anchor != 0) {
      if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
      anchors_[anchor].done = false;  // an alias to it from inside is refused
    }
    Frame& f = stack_.emplace_back();
    f.node.kind = kind;
    f.node.line = LineOf(mark);
    f.mark = mark;
    f.anchor = anchor;
    f.values_at = values_;
    f.text_at = text_;
  }

  void Close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    // Explicit keys win over merged ones, an earlier merge over a later one.
    auto merge = [&](const Node& from) {
      for (const Member& m : from.members)
        if (f.keys.insert(m.key).second) f.node.members.push_back(m);
    };
    for (const Node& m : f.merges) {
      if (m.kind == Node::kMap) {
        merge(m);
      } else {
        for (const Node& item : m.items) merge(item);
      }
    }
    const size_t height = f.height + 1;
    Record(f.anchor, f.node, values_ - f.values_at, text_ - f.text_at, height);
    Place(f.mark, std::move(f.node), height);
  }

  void Place(const YAML::Mark& mark, Node n, size_t height) {
    if (stack_.empty()) {
      root_ = std::move(n);
      has_root_ = true;
      return;
    }
    Frame& f = stack_.back();
    f.height = std::max(f.height, height);
    if (f.node.kind == Node::kSeq) {
      f.node.items.push_back(std::move(n));
      return;
    }
    f.have_key = false;
    if (f.merge) {
      bool ok = n.kind == Node::kMap;
      if (n.kind == Node::kSeq) {
        ok = true;
        for (const Node& item : n.items) ok = ok && item.kind == Node::kMap;
      }
      if (!ok) Fail(mark, "a merge (<<) takes a mapping or a list of mappings");
      f.merges.push_back(std::move(n));
      return;
    }
    f.node.members.push_back(Member{std::move(f.key), std::move(n)});
    f.key.clear();
  }

  std::vector<Frame> stack_;
  std::vector<Anchored> anchors_;
  Node root_;
  bool has_root_ = false;
  YAML::Mark first_mark_ = YAML::Mark::null_mark();
  size_t values_ = 0, text_ = 0;  // over the whole stream
};

// ---- Values ----

bool NameStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool NameChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

// Compose's interpolation without a host environment (compose.h). The message
// of an error says what to write instead.
absl::StatusOr<std::string> Interpolate(absl::string_view s, int depth = 0) {
  if (depth > 8) return absl::InvalidArgumentError("interpolation nests deeper than 8");
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '$') {
      out.push_back(s[i++]);
      continue;
    }
    const char next = i + 1 < s.size() ? s[i + 1] : '\0';
    if (next == '$') {
      out.push_back('$');
      i += 2;
      continue;
    }
    if (NameStart(next)) {
      size_t j = i + 1;
      while (j < s.size() && NameChar(s[j])) ++j;
      return absl::InvalidArgumentError(absl::StrCat(
          Shown(s.substr(i, j - i)),
          " would be read from the host's environment, which the operator does not have: write "
          "the value, a default (${VAR:-value}), or $$ for a literal $"));
    }
    if (next != '{') return absl::InvalidArgumentError("a lone $ (write $$ for a literal $)");
    size_t j = i + 2;
    while (j < s.size() && NameChar(s[j])) ++j;
    const absl::string_view name = s.substr(i + 2, j - i - 2);
    if (name.empty() || !NameStart(name[0]) || j >= s.size())
      return absl::InvalidArgumentError(
          absl::StrCat("an invalid interpolation at ", Shown(s.substr(i, 20))));
    char op = '\0';
    if (s[j] == ':' && j + 1 < s.size() &&
        absl::string_view("-?+").find(s[j + 1]) != absl::string_view::npos) {
      op = s[j + 1];
      j += 2;
    } else if (s[j] == '-' || s[j] == '?' || s[j] == '+') {
      op = s[j];
      j += 1;
    } else if (s[j] != '}') {
      return absl::InvalidArgumentError(
          absl::StrCat("an invalid interpolation at ", Shown(s.substr(i, 20))));
    }
    // The closing brace, past nested ${...}.
    size_t k = j;
    int open = 1;
    while (k < s.size()) {
      if (s[k] == '$' && k + 1 < s.size() && (s[k + 1] == '$' || s[k + 1] == '{')) {
        if (s[k + 1] == '{') ++open;
        k += 2;
        continue;
      }
      if (s[k] == '}' && --open == 0) break;
      ++k;
    }
    if (k >= s.size())
      return absl::InvalidArgumentError(
          absl::StrCat("an unterminated interpolation at ", Shown(s.substr(i, 20))));
    const absl::string_view arg = s.substr(j, k - j);
    if (op == '\0' || op == '?')
      return absl::InvalidArgumentError(absl::StrCat(
          "${", name,
          "} would be read from the host's environment, which the operator does not have: write "
          "the value, or a default (${",
          name, ":-value})"));
    if (op == '-') {
      absl::StatusOr<std::string> d = Interpolate(arg, depth + 1);
      if (!d.ok()) return d.status();
      out += *d;
    }  // '+': the variable is unset, so nothing.
    i = k + 1;
  }
  return out;
}

// Splits a string command into words as a POSIX shell would, without a shell
// (compose does the same): what only a shell gives meaning to is refused.
absl::StatusOr<std::vector<std::string>> SplitWords(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else if (c == '\'') {
      const size_t end = s.find('\'', i + 1);
      if (end == absl::string_view::npos)
        return absl::InvalidArgumentError("an unclosed ' in the command");
      cur.append(s.data() + i + 1, end - i - 1);
      in_word = true;
      i = end;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size() &&
            absl::string_view("$`\"\\\n").find(s[j + 1]) != absl::string_view::npos) {
          cur.push_back(s[++j]);
        } else {
          cur.push_back(s[j]);
        }
      }
      if (j >= s.size()) return absl::InvalidArgumentError("an unclosed \" in the command");
      in_word = true;
      i = j;
    } else if (c == '\\') {
      if (i + 1 >= s.size()) return absl::InvalidArgumentError("a trailing \\ in the command");
      cur.push_back(s[++i]);
      in_word = true;
    } else if (absl::string_view("|&;<>()`\n").find(c) != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the command has ", c == '\n' ? "a newline" : absl::StrCat("`", std::string(1, c), "`"),
          ", which only a shell reads (the command runs without one): write it as a list, e.g. "
          "[\"sh\", \"-c\", \"...\"]"));
    } else {
      cur.push_back(c);
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(cur));
  return words;
}

// A decimal "12" or "0.25" (no sign, no exponent), times scale, rounded up.
std::optional<int64_t> ScaledDecimal(absl::string_view s, int64_t scale) {
  const size_t dot = s.find('.');
  const absl::string_view whole = s.substr(0, dot);
  const absl::string_view frac = dot == absl::string_view::npos ? "" : s.substr(dot + 1);
  if (whole.empty() || whole.size() > 12 || (dot != absl::string_view::npos && frac.empty()))
    return std::nullopt;
  for (char c : whole)
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  for (char c : frac)
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  int64_t w = 0;
  if (!absl::SimpleAtoi(whole, &w) || w > (INT64_MAX - scale) / scale) return std::nullopt;
  // The fraction's value times scale, rounded up, digit by digit (no float error).
  int64_t f = 0, denom = 1;
  bool rest = false;
  for (char c : frac) {
    if (denom >= 1'000'000'000'000LL) {
      rest = rest || c != '0';
      continue;
    }
    f = f * 10 + (c - '0');
    denom *= 10;
  }
  // f / denom * scale, rounded up; scale <= 2^50 and denom <= 10^12: long double holds it.
  const long double part = static_cast<long double>(f) * scale / denom;
  int64_t up = static_cast<int64_t>(std::ceil(part));
  if (rest && static_cast<long double>(up) == part) ++up;
  return w * scale + up;
}

// ---- One service ----

enum class Action { kRead, kIgnored, kRefused };
struct KeyRule {
  absl::string_view key;
  Action action;
  absl::string_view why;  // kRefused: the reason
};

constexpr absl::string_view kHost =
    "it reaches beyond the container (the node's namespaces, devices or kernel)";
constexpr absl::string_view kDns = "name resolution is the platform's";
constexpr absl::string_view kNoEquivalent =
    "it has no Kubernetes equivalent (for CPU and memory use cpus, mem_limit or deploy.resources)";
constexpr absl::string_view kFiles =
    "files beside the compose file are not read: write the values in the compose file";
constexpr absl::string_view kUnsupported = "the operator does not support it";

constexpr KeyRule kServiceKeys[] = {
    {"image", Action::kRead, ""},
    {"build", Action::kRead, ""},
    {"command", Action::kRead, ""},
    {"entrypoint", Action::kRead, ""},
    {"environment", Action::kRead, ""},
    {"ports", Action::kRead, ""},
    {"expose", Action::kRead, ""},
    {"working_dir", Action::kRead, ""},
    {"user", Action::kRead, ""},
    {"hostname", Action::kRead, ""},
    {"tty", Action::kRead, ""},
    {"stdin_open", Action::kRead, ""},
    {"read_only", Action::kRead, ""},
    {"cap_drop", Action::kRead, ""},
    {"cap_add", Action::kRead, ""},
    {"privileged", Action::kRead, ""},
    {"stop_grace_period", Action::kRead, ""},
    {"deploy", Action::kRead, ""},
    {"scale", Action::kRead, ""},
    {"cpus", Action::kRead, ""},
    {"mem_limit", Action::kRead, ""},
    {"mem_reservation", Action::kRead, ""},
    {"volumes", Action::kRead, ""},
    {"tmpfs", Action::kRead, ""},
    {"shm_size", Action::kRead, ""},
    {"links", Action::kRead, ""},
    {"networks", Action::kRead, ""},
    {"profiles", Action::kRead, ""},
    {"container_name", Action::kRead, ""},
    {"depends_on", Action::kIgnored, ""},
    {"restart", Action::kRead, ""},
    {"healthcheck", Action::kIgnored, ""},
    {"labels", Action::kIgnored, ""},
    {"annotations", Action::kIgnored, ""},
    {"logging", Action::kIgnored, ""},
    {"pull_policy", Action::kIgnored, ""},
    {"platform", Action::kIgnored, ""},
    {"init", Action::kIgnored, ""},
    {"stop_signal", Action::kIgnored, ""},
    {"develop", Action::kIgnored, ""},
    {"attach", Action::kIgnored, ""},
    {"network_mode", Action::kRefused, "the pods share the namespace's network only"},
    {"pid", Action::kRefused, kHost},
    {"ipc", Action::kRefused, kHost},
    {"uts", Action::kRefused, kHost},
    {"userns_mode", Action::kRefused, kHost},
    {"cgroup", Action::kRefused, kHost},
    {"cgroup_parent", Action::kRefused, kHost},
    {"devices", Action::kRefused, kHost},
    {"device_cgroup_rules", Action::kRefused, kHost},
    {"security_opt", Action::kRefused, kHost},
    {"sysctls", Action::kRefused, kHost},
    {"runtime", Action::kRefused, kHost},
    {"isolation", Action::kRefused, kHost},
    {"gpus", Action::kRefused, kHost},
    {"use_api_socket", Action::kRefused, kHost},
    {"oom_kill_disable", Action::kRefused, kHost},
    {"oom_score_adj", Action::kRefused, kHost},
    {"extra_hosts", Action::kRefused, kDns},
    {"dns", Action::kRefused, kDns},
    {"dns_opt", Action::kRefused, kDns},
    {"dns_search", Action::kRefused, kDns},
    {"domainname", Action::kRefused, kDns},
    {"external_links", Action::kRefused, kDns},
    {"ulimits", Action::kRefused, kNoEquivalent},
    {"storage_opt", Action::kRefused, kNoEquivalent},
    {"blkio_config", Action::kRefused, kNoEquivalent},
    {"cpu_count", Action::kRefused, kNoEquivalent},
    {"cpu_percent", Action::kRefused, kNoEquivalent},
    {"cpu_shares", Action::kRefused, kNoEquivalent},
    {"cpu_period", Action::kRefused, kNoEquivalent},
    {"cpu_quota", Action::kRefused, kNoEquivalent},
    {"cpu_rt_runtime", Action::kRefused, kNoEquivalent},
    {"cpu_rt_period", Action::kRefused, kNoEquivalent},
    {"cpuset", Action::kRefused, kNoEquivalent},
    {"mem_swappiness", Action::kRefused, kNoEquivalent},
    {"memswap_limit", Action::kRefused, kNoEquivalent},
    {"pids_limit", Action::kRefused, kNoEquivalent},
    {"env_file", Action::kRefused, kFiles},
    {"label_file", Action::kRefused, kFiles},
    {"extends", Action::kRefused, kFiles},
    {"configs", Action::kRefused, kUnsupported},
    {"secrets", Action::kRefused, kUnsupported},
    {"models", Action::kRefused, kUnsupported},
    {"group_add", Action::kRefused, kUnsupported},
    {"credential_spec", Action::kRefused, kUnsupported},
    {"mac_address", Action::kRefused, kUnsupported},
    {"volumes_from", Action::kRefused, kUnsupported},
    {"provider", Action::kRefused, kUnsupported},
    {"post_start", Action::kRefused, kUnsupported},
    {"pre_stop", Action::kRefused, kUnsupported},
};

const KeyRule* FindRule(absl::string_view key) {
  for (const KeyRule& r : kServiceKeys)
    if (r.key == key) return &r;
  return nullptr;
}

struct Port {
  int64_t target = 0;
  std::optional<int64_t> published;
  std::string protocol = "TCP";
};

struct Resources {
  std::optional<int64_t> cpu_limit, cpu_request;  // millicores
  std::optional<int64_t> mem_limit, mem_request;  // Mi
};

// How a service's containers restart: always (a Deployment), or a one-shot
// (a Job of that restartPolicy and backoffLimit).
struct Restart {
  bool one_shot = false;
  std::string policy;  // Never or OnFailure
  int64_t backoff = 0;
};

std::string ServiceAt(absl::string_view raw_name) {
  return absl::StrCat("service ", Shown(raw_name, 63));
}

bool Dns1035(absl::string_view s) {
  return v1alpha1::ValidDnsLabel(s) && s.front() >= 'a' && s.front() <= 'z';
}

// Kubernetes expands $(VAR) in command, args and env values and turns $$
// into $: each literal $ is written $$ so that it reaches the container.
std::string EscapeDollars(absl::string_view s) { return absl::StrReplaceAll(s, {{"$", "$$"}}); }
std::vector<std::string> EscapeDollars(const std::vector<std::string>& words) {
  std::vector<std::string> out;
  out.reserve(words.size());
  for (const std::string& w : words) out.push_back(EscapeDollars(w));
  return out;
}

// The errors of the conversion name the file, the service and the key.
class Converter {
 public:
  Converter(const ComposeInput& in, const Node& root) : in_(in), root_(root) {}

  absl::StatusOr<std::string> Run() {
    if (root_.kind != Node::kMap) return Error("", "the file must be a mapping with `services`");
    for (const auto& [key, value] : root_.members) {
      if (key == "services" || key == "version" || key == "name" || key == "networks" ||
          key == "configs" || key == "secrets" || key == "models" || absl::StartsWith(key, "x-"))
        continue;
      if (key == "volumes") {
        if (value.kind != Node::kMap && value.kind != Node::kNull)
          return Error("volumes", "must be a mapping of volume names");
        for (const Member& m : value.members) declared_volumes_.emplace(m.key, &m.value);
        continue;
      }
      if (key == "include") return Error("include", kFiles);
      return Error(key, "is not a top-level key the operator supports");
    }
    const Node* services = root_.Get("services");
    if (!services || services->kind != Node::kMap || services->members.empty())
      return Error("services", "must be a mapping with at least one service");
    if (services->members.size() > kMaxServices)
      return Error("services", absl::StrCat("has ", services->members.size(),
                                            " services, more than ", kMaxServices));
    // Every converted service's name first: the extra Services (aliases,
    // container names) must not take one, whichever comes first.
    std::vector<std::pair<std::string, const Member*>> converted;
    for (const Member& m : services->members) {
      const std::string at = ServiceAt(m.key);
      if (m.value.kind != Node::kMap) return Error(at, "must be a mapping");
      // As `docker compose up` without --profile: not started, not read.
      if (const Node* p = m.value.Get("profiles");
          p && (p->kind == Node::kScalar || !p->items.empty()))
        continue;
      std::string name = absl::AsciiStrToLower(m.key);
      std::replace(name.begin(), name.end(), '_', '-');
      if (!Dns1035(name))
        return Error(at, absl::StrCat("the name, as ", Shown(name, 63),
                                      ", is not a DNS-1035 label (a-z first, then a-z, 0-9 and "
                                      "'-', at most 63): it names a Deployment and a Service"));
      if (auto [it, added] = service_names_.emplace(name, m.key); !added)
        return Error(at, absl::StrCat("the name, as ", name, ", is service ", Shown(it->second, 63),
                                      "'s too"));
      raw_names_.emplace(m.key, name);
      converted.emplace_back(std::move(name), &m);
    }
    if (converted.empty())
      return Error("services", "every service has `profiles`: none would start without --profile");
    std::vector<std::string> docs;
    for (const auto& [name, m] : converted) {
      absl::Status s = Service(m->key, name, m->value, docs);
      if (!s.ok()) return s;
    }
    const RenderLimits limits;
    if (docs.size() > limits.max_objects)
      return absl::ResourceExhaustedError(absl::StrCat(
          "the file converts to ", docs.size(), " objects, more than the ", limits.max_objects,
          " allowed (each alias and container_name is a Service)"));
    std::string out = absl::StrCat(absl::StrJoin(docs, "\n---\n"), "\n");
    if (out.size() > limits.max_bytes)
      return absl::ResourceExhaustedError(absl::StrCat("the file converts to ", out.size(),
                                                       " bytes of manifests, more than the ",
                                                       limits.max_bytes, " allowed"));
    return out;
  }

 private:
  absl::Status Error(absl::string_view where, absl::string_view why) const {
    return absl::InvalidArgumentError(where.empty() ? std::string(why)
                                                    : absl::StrCat(where, ": ", why));
  }
  absl::Status Exhausted(absl::string_view where, absl::string_view why) const {
    return absl::ResourceExhaustedError(absl::StrCat(where, ": ", why));
  }
  absl::Status Error(absl::string_view where, const absl::Status& s) const {
    return Error(where, s.message());
  }

  // ---- Typed reads; `at` names the key for messages ----

  absl::StatusOr<std::string> Str(const Node& n, absl::string_view at) const {
    if (n.kind != Node::kScalar) return Error(at, "must be a string");
    absl::StatusOr<std::string> s = Interpolate(n.text);
    if (!s.ok()) return Error(at, s.status());
    return s;
  }

  absl::StatusOr<int64_t> Int(const Node& n, absl::string_view at, int64_t min, int64_t max) const {
    absl::StatusOr<std::string> s = Str(n, at);
    if (!s.ok()) return s.status();
    int64_t v = 0;
    const bool digits = !s->empty() && std::all_of(s->begin(), s->end(),
                                                   [](char c) { return absl::ascii_isdigit(c); });
    if (!digits || !absl::SimpleAtoi(*s, &v) || v < min || v > max)
      return Error(at, absl::StrCat(Shown(*s), " is not a whole number from ", min, " to ", max));
    return v;
  }

  absl::StatusOr<bool> Bool(const Node& n, absl::string_view at) const {
    absl::StatusOr<std::string> s = Str(n, at);
    if (!s.ok()) return s.status();
    if (*s == "true" || *s == "True" || *s == "TRUE") return true;
    if (*s == "false" || *s == "False" || *s == "FALSE") return false;
    return Error(at, absl::StrCat(Shown(*s), " is not true or false"));
  }

  absl::StatusOr<std::vector<std::string>> StrList(const Node& n, absl::string_view at) const {
    if (n.kind == Node::kNull) return std::vector<std::string>{};
    if (n.kind != Node::kSeq) return Error(at, "must be a list");
    std::vector<std::string> out;
    for (size_t i = 0; i < n.items.size(); ++i) {
      absl::StatusOr<std::string> s = Str(n.items[i], absl::StrCat(at, "[", i, "]"));
      if (!s.ok()) return s.status();
      out.push_back(*std::move(s));
    }
    return out;
  }

  // command/entrypoint: a list, or a string split into words.
  absl::StatusOr<std::vector<std::string>> Words(const Node& n, absl::string_view at) const {
    if (n.kind != Node::kScalar) return StrList(n, at);
    absl::StatusOr<std::string> s = Str(n, at);
    if (!s.ok()) return s.status();
    absl::StatusOr<std::vector<std::string>> words = SplitWords(*s);
    if (!words.ok()) return Error(at, words.status());
    return words;
  }

  // Compose's byte sizes ("512m", "1.5gb", "1GiB", bytes) in Mi, rounded up.
  absl::StatusOr<int64_t> Mebibytes(const Node& n, absl::string_view at) const {
    absl::StatusOr<std::string> text = Str(n, at);
    if (!text.ok()) return text.status();
    absl::string_view s = *text;
    size_t end = 0;
    while (end < s.size() && (absl::ascii_isdigit(s[end]) || s[end] == '.')) ++end;
    absl::string_view number = s.substr(0, end), unit = s.substr(end);
    absl::ConsumePrefix(&unit, " ");
    const std::string lower = absl::AsciiStrToLower(unit);
    absl::string_view u = lower;
    absl::ConsumeSuffix(&u, "b");
    int shift = 0;
    if (!u.empty()) {
      absl::string_view rest = u;
      const absl::string_view units = "kmgtp";
      const size_t idx = units.find(rest[0]);
      rest.remove_prefix(1);
      absl::ConsumePrefix(&rest, "i");
      if (idx == absl::string_view::npos || !rest.empty())
        return Error(at, absl::StrCat(Shown(s), " is not a size (e.g. 512m, 1.5gb, 1073741824)"));
      shift = 10 * static_cast<int>(idx + 1);
    }
    // Mi = number * 2^shift / 2^20, rounded up.
    std::optional<int64_t> mi;
    if (shift >= 20) {
      mi = ScaledDecimal(number, int64_t{1} << (shift - 20));
    } else {
      std::optional<int64_t> bytes = ScaledDecimal(number, int64_t{1} << shift);
      if (bytes) mi = (*bytes + (1 << 20) - 1) >> 20;
    }
    if (!mi)
      return Error(at, absl::StrCat(Shown(s), " is not a size (e.g. 512m, 1.5gb, 1073741824)"));
    if (*mi > (int64_t{1} << 30)) return Error(at, absl::StrCat(Shown(s), " is more than 1 PiB"));
    return *mi;
  }

  // cpus: a decimal number of cores ("0.5"), in millicores rounded up.
  absl::StatusOr<int64_t> Millicores(const Node& n, absl::string_view at) const {
    absl::StatusOr<std::string> s = Str(n, at);
    if (!s.ok()) return s.status();
    std::optional<int64_t> m = ScaledDecimal(*s, 1000);
    if (!m || *m > 1'000'000)
      return Error(at, absl::StrCat(Shown(*s), " is not a number of CPUs (e.g. 0.5)"));
    return *m;
  }

  // A Go duration ("10s", "1m30s", "500ms"), in whole seconds rounded up.
  absl::StatusOr<int64_t> Seconds(const Node& n, absl::string_view at) const {
    absl::StatusOr<std::string> text = Str(n, at);
    if (!text.ok()) return text.status();
    absl::string_view s = *text;
    if (s == "0") return 0;
    long double total = 0;
    const std::pair<absl::string_view, long double> kUnits[] = {
        {"ns", 1e-9L}, {"us", 1e-6L}, {"µs", 1e-6L}, {"ms", 1e-3L},
        {"h", 3600},   {"m", 60},     {"s", 1}};
    bool any = false;
    while (!s.empty()) {
      size_t end = 0;
      while (end < s.size() && (absl::ascii_isdigit(s[end]) || s[end] == '.')) ++end;
      std::optional<int64_t> micro = ScaledDecimal(s.substr(0, end), 1'000'000);
      s.remove_prefix(end);
      bool matched = false;
      for (const auto& [unit, factor] : kUnits) {
        if (micro && absl::ConsumePrefix(&s, unit)) {
          total += static_cast<long double>(*micro) / 1e6L * factor;
          matched = true;
          break;
        }
      }
      if (!matched)
        return Error(at, absl::StrCat(Shown(*text), " is not a duration (e.g. 10s, 1m30s)"));
      any = true;
    }
    if (!any || total > 86400)
      return Error(at, absl::StrCat(Shown(*text), " is not a duration of at most 24h"));
    return static_cast<int64_t>(std::ceil(total - 1e-9L));
  }

  // ---- Ports ----

  absl::StatusOr<int64_t> PortNumber(absl::string_view s, absl::string_view at) const {
    if (absl::StrContains(s, '-'))
      return Error(at, absl::StrCat(Shown(s), ": port ranges are not supported"));
    int64_t v = 0;
    if (s.empty() ||
        !std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); }) ||
        !absl::SimpleAtoi(s, &v) || v < 1 || v > 65535)
      return Error(at, absl::StrCat(Shown(s), " is not a port (1 to 65535)"));
    return v;
  }

  absl::StatusOr<std::string> Protocol(absl::string_view p, absl::string_view at) const {
    const std::string lower = absl::AsciiStrToLower(p);
    if (lower == "tcp" || lower == "udp" || lower == "sctp") return absl::AsciiStrToUpper(lower);
    return Error(at, absl::StrCat("protocol ", Shown(p), " is not tcp, udp or sctp"));
  }

  absl::StatusOr<Port> ShortPort(const Node& n, absl::string_view at) const {
    absl::StatusOr<std::string> text = Str(n, at);
    if (!text.ok()) return text.status();
    absl::string_view s = *text;
    Port p;
    if (const size_t slash = s.rfind('/'); slash != absl::string_view::npos) {
      absl::StatusOr<std::string> proto = Protocol(s.substr(slash + 1), at);
      if (!proto.ok()) return proto.status();
      p.protocol = *proto;
      s = s.substr(0, slash);
    }
    // The host address ("127.0.0.1:" or "[::1]:") binds on the host: ignored.
    if (absl::StartsWith(s, "[")) {
      const size_t close = s.find("]:");
      if (close == absl::string_view::npos)
        return Error(at, absl::StrCat(Shown(*text), " is not a port mapping"));
      s = s.substr(close + 2);
    }
    std::vector<absl::string_view> parts = absl::StrSplit(s, ':');
    if (parts.size() > 3) return Error(at, absl::StrCat(Shown(*text), " is not a port mapping"));
    absl::StatusOr<int64_t> target = PortNumber(parts.back(), at);
    if (!target.ok()) return target.status();
    p.target = *target;
    if (parts.size() >= 2 && !parts[parts.size() - 2].empty()) {
      absl::StatusOr<int64_t> published = PortNumber(parts[parts.size() - 2], at);
      if (!published.ok()) return published.status();
      p.published = *published;
    }
    return p;
  }

  absl::Status MapOrNull(const Node& n, absl::string_view at) const {
    if (n.kind == Node::kMap || n.kind == Node::kNull) return absl::OkStatus();
    return Error(at, "must be a mapping");
  }

  absl::StatusOr<Port> LongPort(const Node& n, absl::string_view at) const {
    Port p;
    for (const auto& [key, value] : n.members) {
      const std::string k = absl::StrCat(at, ".", key);
      if (key == "target") {
        absl::StatusOr<std::string> s = Str(value, k);
        if (!s.ok()) return s.status();
        absl::StatusOr<int64_t> v = PortNumber(*s, k);
        if (!v.ok()) return v.status();
        p.target = *v;
      } else if (key == "published") {
        absl::StatusOr<std::string> s = Str(value, k);
        if (!s.ok()) return s.status();
        if (s->empty()) continue;
        absl::StatusOr<int64_t> v = PortNumber(*s, k);
        if (!v.ok()) return v.status();
        p.published = *v;
      } else if (key == "protocol") {
        absl::StatusOr<std::string> s = Str(value, k);
        if (!s.ok()) return s.status();
        absl::StatusOr<std::string> proto = Protocol(*s, k);
        if (!proto.ok()) return proto.status();
        p.protocol = *proto;
      } else if (key != "host_ip" && key != "mode" && key != "name" && key != "app_protocol" &&
                 !absl::StartsWith(key, "x-")) {
        return Error(k, "is not a port key the operator supports");
      }
    }
    if (p.target == 0) return Error(at, "has no target");
    return p;
  }

  // ---- Volumes ----

  struct Mounts {
    std::vector<J> volumes, mounts;
    std::set<std::string> paths;
    std::map<std::string, std::string> named;  // compose volume -> pod volume
  };

  absl::Status AddMount(Mounts& m, const std::string& volume, const std::string& path,
                        bool read_only, const std::string& sub_path, absl::string_view at) {
    if (!absl::StartsWith(path, "/"))
      return Error(at, absl::StrCat("the target ", Shown(path), " is not an absolute path"));
    if (m.mounts.size() >= kMaxMounts)
      return Exhausted(at, absl::StrCat("more than ", kMaxMounts, " mounts in the container"));
    if (!m.paths.insert(path).second)
      return Error(at, absl::StrCat(Shown(path), " is mounted twice"));
    J mount = J::Obj({{"name", volume}, {"mountPath", path}});
    if (read_only) mount.Set("readOnly", true);
    if (!sub_path.empty()) mount.Set("subPath", sub_path);
    m.mounts.push_back(std::move(mount));
    return absl::OkStatus();
  }

  std::string NewVolume(Mounts& m, bool memory, std::optional<int64_t> size_mi) {
    const std::string name = absl::StrCat(memory ? "tmp-" : "vol-", m.volumes.size());
    J empty = J::Obj({});
    if (memory) empty.Set("medium", "Memory");
    if (size_mi) {
      empty.Set("sizeLimit", absl::StrCat(*size_mi, "Mi"));
    } else if (!memory && !in_.volume_size_limit.empty()) {
      // A disk emptyDir is the node's disk: bounded, the kubelet evicts past it.
      empty.Set("sizeLimit", in_.volume_size_limit);
    }
    m.volumes.push_back(J::Obj({{"name", name}, {"emptyDir", std::move(empty)}}));
    return name;
  }

  // A named (or, empty, anonymous) volume mounted at path.
  absl::Status NamedVolume(Mounts& m, const std::string& service, const std::string& source,
                           const std::string& path, bool read_only, const std::string& sub_path,
                           absl::string_view at) {
    if (absl::StartsWith(source, ".") || absl::StartsWith(source, "/") ||
        absl::StartsWith(source, "~"))
      return Error(at, absl::StrCat(Shown(source),
                                    " is a bind mount (the host's files): only named volumes, "
                                    "which become empty directories, are supported"));
    if (source.empty())
      return AddMount(m, NewVolume(m, false, std::nullopt), path, read_only, sub_path, at);
    const auto found = declared_volumes_.find(source);
    const Node* decl = found == declared_volumes_.end() ? nullptr : found->second;
    if (!decl)
      return Error(at, absl::StrCat("the volume ", Shown(source),
                                    " is not declared in the top-level volumes"));
    if (const Node* external = decl->Get("external")) {
      absl::StatusOr<bool> b = Bool(*external, absl::StrCat("volumes.", source, ".external"));
      if (!b.ok()) return b.status();
      if (*b)
        return Error(at, absl::StrCat("the volume ", Shown(source),
                                      " is external: its data cannot be reached here"));
    }
    auto [owner, fresh] = volume_owner_.emplace(source, service);
    if (!fresh && owner->second != service)
      return Error(at, absl::StrCat("the volume ", Shown(source), " is also mounted by service ",
                                    owner->second,
                                    ": volumes become per-pod empty directories, not shared"));
    auto [it, added] = m.named.emplace(source, "");
    if (added) it->second = NewVolume(m, false, std::nullopt);
    return AddMount(m, it->second, path, read_only, sub_path, at);
  }

  absl::Status Volume(Mounts& m, const std::string& service, const Node& n, absl::string_view at) {
    if (n.kind == Node::kScalar) {
      absl::StatusOr<std::string> s = Str(n, at);
      if (!s.ok()) return s.status();
      std::vector<std::string> parts = absl::StrSplit(*s, ':');
      if (parts.size() > 3) return Error(at, absl::StrCat(Shown(*s), " is not a volume"));
      bool read_only = false;
      if (parts.size() == 3) {
        for (absl::string_view opt : absl::StrSplit(parts[2], ',')) {
          if (opt == "ro") {
            read_only = true;
          } else if (opt != "rw" && opt != "z" && opt != "Z" && opt != "nocopy") {
            return Error(at,
                         absl::StrCat("the mode ", Shown(opt), " is not ro, rw, z, Z or nocopy"));
          }
        }
      }
      if (parts.size() == 1) return NamedVolume(m, service, "", parts[0], false, "", at);
      return NamedVolume(m, service, parts[0], parts[1], read_only, "", at);
    }
    if (n.kind != Node::kMap) return Error(at, "must be a string or a mapping");
    std::string type = "volume", source, target, sub_path;
    bool read_only = false;
    std::optional<int64_t> size;
    for (const auto& [key, value] : n.members) {
      const std::string k = absl::StrCat(at, ".", key);
      if (key == "type" || key == "source" || key == "target") {
        absl::StatusOr<std::string> s = Str(value, k);
        if (!s.ok()) return s.status();
        (key == "type" ? type : key == "source" ? source : target) = *s;
      } else if (key == "read_only") {
        absl::StatusOr<bool> b = Bool(value, k);
        if (!b.ok()) return b.status();
        read_only = *b;
      } else if (key == "volume") {
        if (absl::Status s = MapOrNull(value, k); !s.ok()) return s;
        for (const auto& [vk, vv] : value.members) {
          if (vk == "subpath") {
            absl::StatusOr<std::string> s = Str(vv, absl::StrCat(k, ".subpath"));
            if (!s.ok()) return s.status();
            sub_path = *s;
          } else if (vk != "nocopy" && !absl::StartsWith(vk, "x-")) {
            return Error(absl::StrCat(k, ".", vk), "is not supported by the operator");
          }
        }
      } else if (key == "tmpfs") {
        if (absl::Status s = MapOrNull(value, k); !s.ok()) return s;
        for (const auto& [tk, tv] : value.members) {
          if (tk == "size") {
            absl::StatusOr<int64_t> mi = Mebibytes(tv, absl::StrCat(k, ".size"));
            if (!mi.ok()) return mi.status();
            if (*mi > 0) size = *mi;
          } else if (tk != "mode" && !absl::StartsWith(tk, "x-")) {
            return Error(absl::StrCat(k, ".", tk), "is not supported by the operator");
          }
        }
      } else if (key == "bind") {
        return Error(k, "bind mounts (the host's files) are not supported");
      } else if (key != "consistency" && !absl::StartsWith(key, "x-")) {
        return Error(k, "is not a volume key the operator supports");
      }
    }
    if (target.empty()) return Error(at, "has no target");
    if (type == "tmpfs") return AddMount(m, NewVolume(m, true, size), target, read_only, "", at);
    if (type == "volume") return NamedVolume(m, service, source, target, read_only, sub_path, at);
    if (type == "bind")
      return Error(at, absl::StrCat(Shown(source),
                                    " is a bind mount (the host's files): only named volumes, "
                                    "which become empty directories, are supported"));
    return Error(absl::StrCat(at, ".type"),
                 absl::StrCat(Shown(type), " is not supported (only volume and tmpfs)"));
  }

  // ---- Resources ----

  // `what` is limits or reservations of deploy.resources.
  absl::Status DeployResources(const Node& n, absl::string_view at, bool limits, Resources& r) {
    for (const auto& [key, value] : n.members) {
      const std::string k = absl::StrCat(at, ".", key);
      if (key == "cpus") {
        absl::StatusOr<int64_t> m = Millicores(value, k);
        if (!m.ok()) return m.status();
        if (*m > 0) (limits ? r.cpu_limit : r.cpu_request) = *m;
      } else if (key == "memory") {
        absl::StatusOr<int64_t> mi = Mebibytes(value, k);
        if (!mi.ok()) return mi.status();
        if (*mi > 0) (limits ? r.mem_limit : r.mem_request) = *mi;
      } else if (!absl::StartsWith(key, "x-")) {
        return Error(k, "is not supported by the operator (only cpus and memory)");
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<int64_t>> Deploy(const Node& n, absl::string_view at, Resources& r,
                                                std::optional<Restart>& restart) {
    std::optional<int64_t> replicas;
    if (n.kind == Node::kNull) return replicas;
    if (n.kind != Node::kMap) return Error(at, "must be a mapping");
    for (const auto& [key, value] : n.members) {
      const std::string k = absl::StrCat(at, ".", key);
      if (key == "replicas") {
        absl::StatusOr<int64_t> v = Int(value, k, 0, kMaxReplicas);
        if (!v.ok()) return v.status();
        replicas = *v;
      } else if (key == "resources") {
        if (absl::Status s = MapOrNull(value, k); !s.ok()) return s;
        for (const auto& [rk, rv] : value.members) {
          const std::string rkey = absl::StrCat(k, ".", rk);
          if (rk == "limits" || rk == "reservations") {
            if (absl::Status s = MapOrNull(rv, rkey); !s.ok()) return s;
            if (absl::Status s = DeployResources(rv, rkey, rk == "limits", r); !s.ok()) return s;
          } else if (!absl::StartsWith(rk, "x-")) {
            return Error(rkey, "is not supported by the operator");
          }
        }
      } else if (key == "mode") {
        absl::StatusOr<std::string> s = Str(value, k);
        if (!s.ok()) return s.status();
        if (*s != "replicated")
          return Error(k, absl::StrCat(Shown(*s), " is not supported (only replicated)"));
      } else if (key == "restart_policy") {
        absl::StatusOr<std::optional<Restart>> p = RestartPolicy(value, k);
        if (!p.ok()) return p.status();
        restart = *p;
      } else if (key != "labels" && key != "placement" && key != "update_config" &&
                 key != "rollback_config" && key != "endpoint_mode" &&
                 !absl::StartsWith(key, "x-")) {
        return Error(k, "is not supported by the operator");
      }
    }
    return replicas;
  }

  // ---- Restarts ----

  // `restart`: no, always, unless-stopped, on-failure[:N].
  absl::StatusOr<Restart> RestartKey(const Node& n, absl::string_view at) const {
    absl::StatusOr<std::string> s = Str(n, at);
    if (!s.ok()) return s.status();
    if (*s == "always" || *s == "unless-stopped") return Restart{};
    if (*s == "no") return Restart{.one_shot = true, .policy = "Never", .backoff = 0};
    absl::string_view v = *s;
    if (absl::ConsumePrefix(&v, "on-failure")) {
      if (v.empty()) return Restart{.one_shot = true, .policy = "OnFailure", .backoff = 6};
      int64_t max = 0;
      if (absl::ConsumePrefix(&v, ":") && !v.empty() && v.size() <= 4 &&
          std::all_of(v.begin(), v.end(), [](char c) { return absl::ascii_isdigit(c); }) &&
          absl::SimpleAtoi(v, &max) && max <= kMaxBackoff)
        return Restart{.one_shot = true, .policy = "OnFailure", .backoff = max};
    }
    return Error(at,
                 absl::StrCat(Shown(*s), " is not no, always, unless-stopped or on-failure[:N] (N ",
                              "at most ", kMaxBackoff, ")"));
  }

  // deploy.restart_policy (it replaces `restart`): condition none,
  // on-failure (max_attempts) or any; delay and window are hints.
  absl::StatusOr<std::optional<Restart>> RestartPolicy(const Node& n, absl::string_view at) const {
    if (absl::Status s = MapOrNull(n, at); !s.ok()) return s;
    std::string condition;
    std::optional<int64_t> max;
    for (const auto& [key, value] : n.members) {
      const std::string k = absl::StrCat(at, ".", key);
      if (key == "condition") {
        absl::StatusOr<std::string> c = Str(value, k);
        if (!c.ok()) return c.status();
        condition = *c;
        if (condition != "none" && condition != "on-failure" && condition != "any")
          return Error(k, absl::StrCat(Shown(condition), " is not none, on-failure or any"));
      } else if (key == "max_attempts") {
        absl::StatusOr<int64_t> v = Int(value, k, 0, kMaxBackoff);
        if (!v.ok()) return v.status();
        max = *v;
      } else if (key != "delay" && key != "window" && !absl::StartsWith(key, "x-")) {
        return Error(k, "is not supported by the operator");
      }
    }
    if (condition.empty()) return std::optional<Restart>();
    if (condition == "none") return Restart{.one_shot = true, .policy = "Never", .backoff = 0};
    if (condition == "on-failure")
      return Restart{.one_shot = true, .policy = "OnFailure", .backoff = max.value_or(6)};
    return Restart{};
  }

  // ---- Names ----

  // Another headless Service `alias` for the pods of service `target`: a
  // name the others connect by. The same name for the same pods is one
  // Service; for other pods, or a service's own name, it is refused.
  absl::Status ExtraService(const std::string& alias, const std::string& target,
                            const std::string& what, absl::string_view at,
                            std::vector<std::string>& docs) {
    if (alias == target) return absl::OkStatus();
    if (auto it = service_names_.find(alias); it != service_names_.end())
      return Error(at, absl::StrCat(what, " is also the name of service ", Shown(it->second, 63)));
    auto [it, added] = extra_.emplace(alias, std::make_pair(target, what));
    if (!added) {
      if (it->second.first == target) return absl::OkStatus();
      return Error(at,
                   absl::StrCat(what, " is also ", it->second.second, ": one name, two services"));
    }
    docs.push_back(HeadlessService(alias, target, {}));
    return absl::OkStatus();
  }

  // Headless (clusterIP: None): the name resolves to the pods' addresses,
  // so every port of theirs is reachable by it, as on a compose network.
  static std::string HeadlessService(const std::string& name, const std::string& target,
                                     std::vector<J> ports) {
    J spec = J::Obj({{"clusterIP", "None"}, {"selector", J::Obj({{kNameLabel, target}})}});
    if (!ports.empty()) spec.Set("ports", J::Arr(std::move(ports)));
    return J::Obj(
               {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata", J::Obj({{"name", name}, {"labels", J::Obj({{kNameLabel, target}})}})},
                {"spec", std::move(spec)}})
        .Serialize();
  }

  // ---- The service ----

  // The service's objects, appended to docs: its Deployment or Job, its
  // headless Service, and the extra Services of its names.
  absl::Status Service(const std::string& raw_name, const std::string& name, const Node& svc,
                       std::vector<std::string>& docs) {
    const std::string at = ServiceAt(raw_name);
    auto key_at = [&](absl::string_view key) { return absl::StrCat(at, ": ", key); };
    for (const auto& [key, value] : svc.members) {
      if (absl::StartsWith(key, "x-")) continue;
      const KeyRule* rule = FindRule(key);
      if (!rule) return Error(key_at(key), "is not a Compose key the operator supports");
      if (rule->action == Action::kRefused) return Error(key_at(key), rule->why);
    }

    // The image.
    std::string image;
    if (const Node* n = svc.Get("image")) {
      absl::StatusOr<std::string> s = Str(*n, key_at("image"));
      if (!s.ok()) return s.status();
      image = *s;
    }
    if (svc.Has("build")) {
      auto built = in_.built_images.find(raw_name);
      if (built == in_.built_images.end()) built = in_.built_images.find(name);
      if (built != in_.built_images.end()) {
        image = built->second;
      } else if (image.empty()) {
        return Error(key_at("build"),
                     absl::StrCat("the service has build: and no image:, but the template has no "
                                  "build named ",
                                  name));
      }
    }
    if (image.empty()) return Error(key_at("image"), "the service has neither image: nor build:");

    J container = J::Obj({{"name", name}, {"image", image}});

    // entrypoint -> command, command -> args.
    std::optional<std::vector<std::string>> entrypoint, command;
    if (const Node* n = svc.Get("entrypoint"); n && n->kind != Node::kNull) {
      absl::StatusOr<std::vector<std::string>> w = Words(*n, key_at("entrypoint"));
      if (!w.ok()) return w.status();
      entrypoint = *std::move(w);
    }
    if (const Node* n = svc.Get("command"); n && n->kind != Node::kNull) {
      absl::StatusOr<std::vector<std::string>> w = Words(*n, key_at("command"));
      if (!w.ok()) return w.status();
      command = *std::move(w);
    }
    if (entrypoint && entrypoint->empty()) {
      // Compose clears the image's entrypoint: the command runs alone.
      if (!command || command->empty())
        return Error(key_at("entrypoint"),
                     "an empty entrypoint without a command would run the image's command "
                     "without its entrypoint, which Kubernetes cannot express: give the command");
      container.Set("command", J::Strings(EscapeDollars(*command)));
    } else {
      if (entrypoint) container.Set("command", J::Strings(EscapeDollars(*entrypoint)));
      if (command && !command->empty()) container.Set("args", J::Strings(EscapeDollars(*command)));
    }

    if (const Node* n = svc.Get("working_dir")) {
      absl::StatusOr<std::string> s = Str(*n, key_at("working_dir"));
      if (!s.ok()) return s.status();
      if (!s->empty()) container.Set("workingDir", *s);
    }

    // environment.
    if (const Node* n = svc.Get("environment")) {
      absl::StatusOr<J> env = Environment(*n, key_at("environment"));
      if (!env.ok()) return env.status();
      container.Set("env", *std::move(env));
    }

    // ports and expose.
    std::vector<Port> ports;
    size_t port_entries = 0;
    for (const char* key : {"ports", "expose"})
      if (const Node* n = svc.Get(key); n && n->kind == Node::kSeq) port_entries += n->items.size();
    if (port_entries > kMaxPorts)
      return Exhausted(key_at("ports"), absl::StrCat("ports and expose have ", port_entries,
                                                     " entries, more than ", kMaxPorts));
    if (const Node* n = svc.Get("ports"); n && n->kind != Node::kNull) {
      if (n->kind != Node::kSeq) return Error(key_at("ports"), "must be a list");
      for (size_t i = 0; i < n->items.size(); ++i) {
        const std::string k = absl::StrCat(key_at("ports"), "[", i, "]");
        absl::StatusOr<Port> p =
            n->items[i].kind == Node::kMap ? LongPort(n->items[i], k) : ShortPort(n->items[i], k);
        if (!p.ok()) return p.status();
        ports.push_back(*std::move(p));
      }
    }
    if (const Node* n = svc.Get("expose"); n && n->kind != Node::kNull) {
      if (n->kind != Node::kSeq) return Error(key_at("expose"), "must be a list");
      for (size_t i = 0; i < n->items.size(); ++i) {
        const std::string k = absl::StrCat(key_at("expose"), "[", i, "]");
        absl::StatusOr<Port> p = ShortPort(n->items[i], k);
        if (!p.ok()) return p.status();
        if (p->published) return Error(k, "expose takes a container port only");
        ports.push_back(*std::move(p));
      }
    }
    // The Service's ports are the container's: a published (host) port means
    // nothing inside the namespace, where the others connect to the target.
    std::vector<J> container_ports, service_ports;
    {
      std::set<std::pair<int64_t, std::string>> seen;
      for (const Port& p : ports) {
        if (!seen.emplace(p.target, p.protocol).second) continue;
        container_ports.push_back(J::Obj({{"containerPort", p.target}, {"protocol", p.protocol}}));
        const std::string suffix =
            p.protocol == "TCP" ? "" : absl::StrCat("-", absl::AsciiStrToLower(p.protocol));
        service_ports.push_back(J::Obj({{"name", absl::StrCat("p", p.target, suffix)},
                                        {"port", p.target},
                                        {"targetPort", p.target},
                                        {"protocol", p.protocol}}));
      }
    }
    if (!container_ports.empty()) container.Set("ports", J::Arr(container_ports));

    // Resources.
    Resources r;
    absl::StatusOr<std::optional<int64_t>> replicas = std::optional<int64_t>();
    std::optional<Restart> restart;
    if (const Node* n = svc.Get("restart")) {
      absl::StatusOr<Restart> v = RestartKey(*n, key_at("restart"));
      if (!v.ok()) return v.status();
      restart = *v;
    }
    if (const Node* n = svc.Get("deploy")) {
      replicas = Deploy(*n, key_at("deploy"), r, restart);
      if (!replicas.ok()) return replicas.status();
    }
    if (const Node* n = svc.Get("scale")) {
      absl::StatusOr<int64_t> v = Int(*n, key_at("scale"), 0, kMaxReplicas);
      if (!v.ok()) return v.status();
      if (replicas->has_value() && **replicas != *v)
        return Error(key_at("scale"), "differs from deploy.replicas");
      *replicas = *v;
    }
    const bool one_shot = restart && restart->one_shot;
    if (one_shot && replicas->value_or(1) != 1)
      return Error(key_at(svc.Has("scale") ? "scale" : "deploy.replicas"),
                   "a one-shot service (restart: no or on-failure) runs once: a Job of one pod, "
                   "so replicas must be 1");
    if (absl::Status s = ServiceResources(svc, at, r); !s.ok()) return s;
    if (r.cpu_limit && r.cpu_request && *r.cpu_request > *r.cpu_limit)
      return Error(key_at("deploy.resources"), "the CPU reservation is more than the limit");
    // The namespace's quota may limit CPU: then every container needs a limit.
    if (!r.cpu_limit && !in_.default_cpu_limit.empty()) {
      absl::StatusOr<double> cores = kube::QuantityValue(in_.default_cpu_limit);
      if (!cores.ok() || !(*cores > 0) || *cores > 1e6)
        return absl::InvalidArgumentError(absl::StrCat(
            "the default CPU limit ", Shown(in_.default_cpu_limit), " is not a CPU quantity"));
      r.cpu_limit = static_cast<int64_t>(std::ceil(*cores * 1000 - 1e-9));
    }
    const int64_t cpu_request =
        std::min(r.cpu_request.value_or(kDefaultCpuMillis), r.cpu_limit.value_or(INT64_MAX));
    const int64_t mem_limit =
        r.mem_limit.value_or(std::max(kDefaultMemoryMi, r.mem_request.value_or(0)));
    const int64_t mem_request = r.mem_request.value_or(mem_limit);
    if (mem_request > mem_limit)
      return Error(key_at("deploy.resources"), "the memory reservation is more than the limit");
    auto quantity = [](std::string q) {
      absl::StatusOr<std::string> c = kube::CanonicalQuantity(q);
      return c.ok() ? *c : q;
    };
    J limits = J::Obj({{"memory", quantity(absl::StrCat(mem_limit, "Mi"))}});
    if (r.cpu_limit) limits.Set("cpu", quantity(absl::StrCat(*r.cpu_limit, "m")));
    container.Set(
        "resources",
        J::Obj({{"requests", J::Obj({{"cpu", quantity(absl::StrCat(cpu_request, "m"))},
                                     {"memory", quantity(absl::StrCat(mem_request, "Mi"))}})},
                {"limits", std::move(limits)}}));

    // Volumes.
    Mounts mounts;
    if (const Node* n = svc.Get("volumes"); n && n->kind != Node::kNull) {
      if (n->kind != Node::kSeq) return Error(key_at("volumes"), "must be a list");
      if (n->items.size() > kMaxMounts)
        return Exhausted(key_at("volumes"),
                         absl::StrCat("has ", n->items.size(), " entries, more than ", kMaxMounts));
      for (size_t i = 0; i < n->items.size(); ++i)
        if (absl::Status s =
                Volume(mounts, name, n->items[i], absl::StrCat(key_at("volumes"), "[", i, "]"));
            !s.ok())
          return s;
    }
    if (const Node* n = svc.Get("tmpfs"); n && n->kind != Node::kNull) {
      std::vector<std::string> paths;
      if (n->kind == Node::kScalar) {
        absl::StatusOr<std::string> s = Str(*n, key_at("tmpfs"));
        if (!s.ok()) return s.status();
        paths.push_back(*s);
      } else {
        absl::StatusOr<std::vector<std::string>> l = StrList(*n, key_at("tmpfs"));
        if (!l.ok()) return l.status();
        paths = *std::move(l);
      }
      for (const std::string& p : paths) {
        const std::string path(absl::string_view(p).substr(0, p.find(':')));  // options ignored
        if (absl::Status s = AddMount(mounts, NewVolume(mounts, true, std::nullopt), path, false,
                                      "", key_at("tmpfs"));
            !s.ok())
          return s;
      }
    }
    if (const Node* n = svc.Get("shm_size")) {
      absl::StatusOr<int64_t> mi = Mebibytes(*n, key_at("shm_size"));
      if (!mi.ok()) return mi.status();
      if (*mi > 0) {
        mounts.volumes.push_back(
            J::Obj({{"name", "dshm"},
                    {"emptyDir",
                     J::Obj({{"medium", "Memory"}, {"sizeLimit", absl::StrCat(*mi, "Mi")}})}}));
        if (absl::Status s = AddMount(mounts, "dshm", "/dev/shm", false, "", key_at("shm_size"));
            !s.ok())
          return s;
      }
    }
    if (!mounts.mounts.empty()) container.Set("volumeMounts", J::Arr(mounts.mounts));

    // The names others connect by besides the service's own: each an extra
    // headless Service for the same pods (a link's for its target's).
    std::vector<std::string> extra_docs;
    auto alias_name = [&](const std::string& alias, absl::string_view k,
                          absl::string_view what) -> absl::StatusOr<std::string> {
      const std::string lower = absl::AsciiStrToLower(alias);
      if (!Dns1035(lower))
        return Error(k, absl::StrCat(what, " ", Shown(alias, 63),
                                     " is not a DNS-1035 label (a-z first, then a-z, 0-9 and "
                                     "'-', at most 63): no Service can have that name"));
      return lower;
    };
    if (const Node* n = svc.Get("container_name")) {
      absl::StatusOr<std::string> s = Str(*n, key_at("container_name"));
      if (!s.ok()) return s.status();
      const std::string lower = absl::AsciiStrToLower(*s);
      // Not a DNS label (my_app_1): only a name for the docker CLI, ignored.
      if (Dns1035(lower))
        if (absl::Status st =
                ExtraService(lower, name, absl::StrCat("the container_name ", lower, " of ", at),
                             key_at("container_name"), extra_docs);
            !st.ok())
          return st;
    }
    if (const Node* n = svc.Get("links")) {
      absl::StatusOr<std::vector<std::string>> l = StrList(*n, key_at("links"));
      if (!l.ok()) return l.status();
      for (const std::string& link : *l) {
        const std::vector<std::string> parts = absl::StrSplit(link, absl::MaxSplits(':', 1));
        const auto target = raw_names_.find(parts[0]);
        if (target == raw_names_.end())
          return Error(key_at("links"), absl::StrCat(Shown(link), ": ", Shown(parts[0], 63),
                                                     " is not a service of the file that starts"));
        if (parts.size() == 1) continue;  // the service's own name: resolves anyway
        absl::StatusOr<std::string> alias = alias_name(parts[1], key_at("links"), "the alias");
        if (!alias.ok()) return alias.status();
        if (absl::Status st = ExtraService(*alias, target->second,
                                           absl::StrCat("the link alias ", *alias, " (of service ",
                                                        target->second, ") in ", at),
                                           key_at("links"), extra_docs);
            !st.ok())
          return st;
      }
    }
    if (const Node* n = svc.Get("networks"); n && n->kind == Node::kMap) {
      for (const auto& [net, cfg] : n->members) {
        const Node* aliases = cfg.Get("aliases");
        if (!aliases) continue;
        const std::string k = absl::StrCat(key_at("networks"), ".", net, ".aliases");
        absl::StatusOr<std::vector<std::string>> l = StrList(*aliases, k);
        if (!l.ok()) return l.status();
        for (const std::string& a : *l) {
          absl::StatusOr<std::string> alias = alias_name(a, k, "the alias");
          if (!alias.ok()) return alias.status();
          if (absl::Status st =
                  ExtraService(*alias, name, absl::StrCat("the network alias ", *alias, " of ", at),
                               k, extra_docs);
              !st.ok())
            return st;
        }
      }
    }

    // Security.
    J security = J::Obj({{"allowPrivilegeEscalation", false}});
    if (const Node* n = svc.Get("privileged")) {
      absl::StatusOr<bool> b = Bool(*n, key_at("privileged"));
      if (!b.ok()) return b.status();
      if (*b) return Error(key_at("privileged"), kHost);
    }
    if (const Node* n = svc.Get("cap_add")) {
      absl::StatusOr<std::vector<std::string>> l = StrList(*n, key_at("cap_add"));
      if (!l.ok()) return l.status();
      if (!l->empty())
        return Error(key_at("cap_add"),
                     "added capabilities are not supported (the platform's "
                     "Pod Security refuses them)");
    }
    if (const Node* n = svc.Get("read_only")) {
      absl::StatusOr<bool> b = Bool(*n, key_at("read_only"));
      if (!b.ok()) return b.status();
      if (*b) security.Set("readOnlyRootFilesystem", true);
    }
    if (const Node* n = svc.Get("user")) {
      absl::StatusOr<std::string> s = Str(*n, key_at("user"));
      if (!s.ok()) return s.status();
      std::vector<absl::string_view> ids = absl::StrSplit(*s, absl::MaxSplits(':', 1));
      int64_t uid = 0, gid = 0;
      auto numeric = [](absl::string_view v, int64_t* out) {
        return !v.empty() && v.size() <= 10 &&
               std::all_of(v.begin(), v.end(), [](char c) { return absl::ascii_isdigit(c); }) &&
               absl::SimpleAtoi(v, out) && *out <= 2147483647;
      };
      if (!numeric(ids[0], &uid) || (ids.size() == 2 && !numeric(ids[1], &gid)))
        return Error(key_at("user"),
                     absl::StrCat(Shown(*s),
                                  ": only a numeric uid[:gid] (Kubernetes cannot look a user "
                                  "name up in the image)"));
      security.Set("runAsUser", uid);
      if (ids.size() == 2) security.Set("runAsGroup", gid);
    }
    if (const Node* n = svc.Get("cap_drop")) {
      absl::StatusOr<std::vector<std::string>> l = StrList(*n, key_at("cap_drop"));
      if (!l.ok()) return l.status();
      if (!l->empty()) {
        std::vector<std::string> caps;
        for (const std::string& c : *l) {
          const std::string upper = absl::AsciiStrToUpper(c);
          absl::string_view cap = upper;
          absl::ConsumePrefix(&cap, "CAP_");
          caps.emplace_back(cap);
        }
        security.Set("capabilities", J::Obj({{"drop", J::Strings(caps)}}));
      }
    }
    container.Set("securityContext", std::move(security));
    for (const auto& [key, field] : {std::pair{"tty", "tty"}, std::pair{"stdin_open", "stdin"}}) {
      if (const Node* n = svc.Get(key)) {
        absl::StatusOr<bool> b = Bool(*n, key_at(key));
        if (!b.ok()) return b.status();
        if (*b) container.Set(field, true);
      }
    }

    // The pod.
    J pod = J::Obj({{"enableServiceLinks", false}, {"automountServiceAccountToken", false}});
    if (const Node* n = svc.Get("hostname")) {
      absl::StatusOr<std::string> s = Str(*n, key_at("hostname"));
      if (!s.ok()) return s.status();
      if (!v1alpha1::ValidDnsLabel(*s))
        return Error(key_at("hostname"), absl::StrCat(Shown(*s), " is not a DNS label"));
      pod.Set("hostname", *s);
    }
    if (const Node* n = svc.Get("stop_grace_period")) {
      absl::StatusOr<int64_t> sec = Seconds(*n, key_at("stop_grace_period"));
      if (!sec.ok()) return sec.status();
      pod.Set("terminationGracePeriodSeconds", *sec);
    }
    if (in_.pull_secret)
      pod.Set("imagePullSecrets", J::Arr({J::Obj({{"name", kRegistrySecretName}})}));
    pod.Set("containers", J::Arr({std::move(container)}));
    if (!mounts.volumes.empty()) pod.Set("volumes", J::Arr(mounts.volumes));

    const J labels = J::Obj({{kNameLabel, name}});
    if (one_shot) {
      pod.Set("restartPolicy", restart->policy);
      // No ttlSecondsAfterFinished: the operator would run a deleted Job again.
      const J spec = J::Obj({{"backoffLimit", restart->backoff},
                             {"template", J::Obj({{"metadata", J::Obj({{"labels", labels}})},
                                                  {"spec", std::move(pod)}})}});
      // A Job's pod template cannot change: another spec (a new image) is
      // another Job. Its name is its pods' job-name label: at most 63.
      std::string prefix = name.substr(0, 54);
      while (absl::EndsWith(prefix, "-")) prefix.pop_back();
      docs.push_back(
          J::Obj({{"apiVersion", "batch/v1"},
                  {"kind", "Job"},
                  {"metadata",
                   J::Obj({{"name", absl::StrCat(prefix, "-", HexSha256(spec.Serialize(), 8))},
                           {"labels", labels}})},
                  {"spec", spec}})
              .Serialize());
    } else {
      docs.push_back(
          J::Obj({{"apiVersion", "apps/v1"},
                  {"kind", "Deployment"},
                  {"metadata", J::Obj({{"name", name}, {"labels", labels}})},
                  {"spec", J::Obj({{"replicas", replicas->value_or(1)},
                                   {"selector", J::Obj({{"matchLabels", labels}})},
                                   {"strategy", J::Obj({{"type", "Recreate"}})},
                                   {"template", J::Obj({{"metadata", J::Obj({{"labels", labels}})},
                                                        {"spec", std::move(pod)}})}})}})
              .Serialize());
    }
    docs.push_back(HeadlessService(name, name, std::move(service_ports)));
    for (std::string& d : extra_docs) docs.push_back(std::move(d));
    return absl::OkStatus();
  }

  // cpus, mem_limit, mem_reservation: equal to deploy.resources' where both are set.
  absl::Status ServiceResources(const Node& svc, absl::string_view at, Resources& r) {
    struct Field {
      absl::string_view key;
      std::optional<int64_t>* into;
      bool cpu;
    };
    const Field fields[] = {{"cpus", &r.cpu_limit, true},
                            {"mem_limit", &r.mem_limit, false},
                            {"mem_reservation", &r.mem_request, false}};
    for (const Field& f : fields) {
      const Node* n = svc.Get(f.key);
      if (!n) continue;
      const std::string k = absl::StrCat(at, ": ", f.key);
      absl::StatusOr<int64_t> v = f.cpu ? Millicores(*n, k) : Mebibytes(*n, k);
      if (!v.ok()) return v.status();
      if (*v == 0) continue;  // docker's "no limit"
      if (f.into->has_value() && **f.into != *v)
        return Error(k, "differs from what deploy.resources sets");
      *f.into = *v;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<J> Environment(const Node& n, absl::string_view at) const {
    const size_t entries = n.kind == Node::kMap ? n.members.size() : n.items.size();
    if (entries > kMaxEnv)
      return Exhausted(at, absl::StrCat("has ", entries, " entries, more than ", kMaxEnv));
    // Compose's last value of a name wins; the order of first appearance is kept.
    std::vector<std::pair<std::string, std::string>> vars;
    absl::flat_hash_map<std::string, size_t> index;  // name -> vars[i]
    auto put = [&](std::string key, std::string value) -> absl::Status {
      if (key.empty()) return Error(at, "a variable without a name");
      auto [it, added] = index.emplace(key, vars.size());
      if (!added) {
        vars[it->second].second = std::move(value);
        return absl::OkStatus();
      }
      vars.emplace_back(std::move(key), std::move(value));
      return absl::OkStatus();
    };
    auto from_host = [&](absl::string_view key) {
      return Error(absl::StrCat(at, ".", key),
                   "has no value: compose would read it from the host's environment, which the "
                   "operator does not have (give it a value)");
    };
    if (n.kind == Node::kMap) {
      for (const auto& [key, value] : n.members) {
        if (value.kind == Node::kNull) return from_host(key);
        absl::StatusOr<std::string> v = Str(value, absl::StrCat(at, ".", key));
        if (!v.ok()) return v.status();
        if (absl::Status s = put(key, *std::move(v)); !s.ok()) return s;
      }
    } else if (n.kind == Node::kSeq) {
      absl::StatusOr<std::vector<std::string>> items = StrList(n, at);
      if (!items.ok()) return items.status();
      for (const std::string& item : *items) {
        const size_t eq = item.find('=');
        if (eq == std::string::npos) return from_host(item);
        if (absl::Status s = put(item.substr(0, eq), item.substr(eq + 1)); !s.ok()) return s;
      }
    } else if (n.kind != Node::kNull) {
      return Error(at, "must be a mapping or a list of KEY=VALUE");
    }
    J env = J::Arr({});
    for (auto& [k, v] : vars) env.Push(J::Obj({{"name", k}, {"value", EscapeDollars(v)}}));
    return env;
  }

  const ComposeInput& in_;
  const Node& root_;
  std::map<std::string, std::string> volume_owner_;                 // named volume -> service
  absl::flat_hash_map<std::string, const Node*> declared_volumes_;  // top-level volumes
  std::map<std::string, std::string> service_names_;                // converted -> as written
  std::map<std::string, std::string> raw_names_;                    // as written -> converted
  // Extra Services: name -> (the service whose pods, what named it).
  std::map<std::string, std::pair<std::string, std::string>> extra_;
};

}  // namespace

absl::StatusOr<std::string> ConvertCompose(const ComposeInput& in) {
  // Messages do not name the file: the caller prefixes them with it.
  if (in.yaml.size() > kMaxBytes)
    return absl::ResourceExhaustedError(absl::StrCat(
        "the file is ", in.yaml.size(), " bytes, more than the ", kMaxBytes, " allowed"));
  // YAML allows no other control character unescaped; yaml-cpp does not
  // refuse them all (a NUL ends nothing there), so they are refused here.
  int line = 1;
  for (const char c : in.yaml) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') ++line;
    if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f)
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line, ": the control character ",
                       absl::StrFormat("0x%02x", static_cast<unsigned>(u)),
                       " (YAML allows only tab, newline and carriage return unescaped)"));
  }
  Node root;
  bool has_root = false;
  try {
    std::istringstream stream{std::string(in.yaml)};
    YAML::Parser parser(stream);
    TreeBuilder builder;
    YAML::Mark last_empty = YAML::Mark::null_mark();
    for (int docs = 1;; ++docs) {
      builder.Reset();
      if (!parser.HandleNextDocument(builder)) break;
      if (docs > kMaxDocuments)
        return absl::InvalidArgumentError(
            absl::StrCat("more than ", kMaxDocuments, " YAML documents (a compose file is one)"));
      if (builder.has_root() && builder.root().kind != Node::kNull) {
        if (has_root)
          return absl::InvalidArgumentError("more than one YAML document: a compose file is one");
        root = std::move(builder.root());
        has_root = true;
        continue;
      }
      // yaml-cpp 0.7 reports a token it cannot place (a stray `,`) as an
      // empty document without consuming it: the same one again is that.
      const YAML::Mark& at = builder.first_mark();
      if (!at.is_null() && !last_empty.is_null() && at.pos == last_empty.pos)
        return absl::InvalidArgumentError(absl::StrCat("invalid YAML at line ", at.line + 1,
                                                       ", column ", at.column + 1,
                                                       ": a token out of place"));
      last_empty = at;
    }
  } catch (const Stop& stop) {
    return absl::Status(stop.code, stop.message);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid YAML at line ", e.mark.line + 1, ": ", e.msg));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory");
  }
  return Converter(in, root).Run();
}

}  // namespace controllers

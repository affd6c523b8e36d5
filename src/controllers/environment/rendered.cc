#include "controllers/environment/rendered.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/v1alpha1/config.h"
#include "controllers/environment/naming.h"
#include "controllers/environment/resolve.h"
#include "controllers/environment/team_secrets.h"
#include "rapidjson/document.h"
#include "util/utf8.h"

namespace controllers {
namespace {

using rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// Text from the chart in a message: escaped (no newline or invalid UTF-8
// reaches a status) and cut.
std::string Shown(absl::string_view s, size_t max = 80) {
  const absl::string_view head = util::Utf8Prefix(s, max);
  return absl::StrCat(absl::CHexEscape(head), head.size() < s.size() ? "..." : "");
}

// ---- Scalars: typed as go-yaml v2 types them when sigs.k8s.io/yaml turns a
// manifest into JSON for `helm install` and kubectl. The YAML 1.2 core schema
// alone would read `defaultMode: 0644` as 644 (an invalid mode) where every
// chart's author tested 420. ----

struct Scalar {
  enum Type { kNull, kBool, kInt, kUint, kFloat, kString } type = kString;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
};

constexpr absl::string_view kTrueWords[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                            "True", "TRUE", "on",  "On",  "ON"};
constexpr absl::string_view kFalseWords[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                             "False", "FALSE", "off", "Off", "OFF"};
constexpr absl::string_view kNullWords[] = {"", "~", "null", "Null", "NULL"};
constexpr absl::string_view kNanWords[] = {".nan", ".NaN", ".NAN"};
constexpr absl::string_view kInfWords[] = {".inf",  ".Inf",  ".INF",  "+.inf", "+.Inf",
                                           "+.INF", "-.inf", "-.Inf", "-.INF"};

bool OneOf(absl::string_view s, const auto& words) {
  return std::find(std::begin(words), std::end(words), s) != std::end(words);
}

// Go's strconv.ParseUint(s, 0, 64): 0x/0o/0b prefixes, a leading 0 octal.
bool ParseGoUint(absl::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t base = 10;
  if (s[0] == '0') {
    const char p = s.size() >= 3 ? absl::ascii_tolower(s[1]) : '\0';
    base = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 8;
    s.remove_prefix(p == 'b' || p == 'o' || p == 'x' ? 2 : 1);
  }
  uint64_t v = 0;
  for (char c : s) {
    uint64_t digit;
    if (absl::ascii_isdigit(c)) {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return false;
    }
    if (digit >= base || v > (std::numeric_limits<uint64_t>::max() - digit) / base) return false;
    v = v * base + digit;
  }
  *out = v;
  return true;
}

// Go's strconv.ParseInt(s, 0, 64).
bool ParseGoInt(absl::string_view s, int64_t* out) {
  const bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  uint64_t u;
  if (!ParseGoUint(s, &u)) return false;
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  if (negative) {
    if (u > kMax + 1) return false;
    *out = u == kMax + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(u);
  } else {
    if (u > kMax) return false;
    *out = static_cast<int64_t>(u);
  }
  return true;
}

// go-yaml's float pattern: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool FloatSyntax(absl::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    const size_t from = i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i;
    return i > from;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  } else {
    if (!digits()) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

// A number FloatSyntax accepts; false when out of range (go-yaml then keeps the text).
bool ParseFloat(absl::string_view s, double* out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// An untagged plain scalar (go-yaml's resolve()).
Scalar ResolvePlain(absl::string_view in) {
  Scalar r;
  if (OneOf(in, kNullWords)) {
    r.type = Scalar::kNull;
  } else if (OneOf(in, kTrueWords) || OneOf(in, kFalseWords)) {
    r.type = Scalar::kBool;
    r.b = OneOf(in, kTrueWords);
  } else if (OneOf(in, kNanWords) || OneOf(in, kInfWords)) {
    r.type = Scalar::kFloat;
    r.d = OneOf(in, kNanWords) ? std::nan("") : in[0] == '-' ? -INFINITY : INFINITY;
  } else if (in[0] == '.') {
    if (FloatSyntax(in) && ParseFloat(in, &r.d)) r.type = Scalar::kFloat;
  } else if (absl::ascii_isdigit(in[0]) || in[0] == '-' || in[0] == '+') {
    // go-yaml drops every '_' (1_000) before reading a number.
    const std::string plain = absl::StrReplaceAll(in, {{"_", ""}});
    if (ParseGoInt(plain, &r.i)) {
      r.type = Scalar::kInt;
    } else if (ParseGoUint(plain, &r.u)) {
      r.type = Scalar::kUint;
    } else if (FloatSyntax(plain) && ParseFloat(plain, &r.d)) {
      r.type = Scalar::kFloat;
    }
  }
  return r;
}

constexpr absl::string_view kCoreTag = "tag:yaml.org,2002:";

// A scalar with its tag as yaml-cpp reports it: "?" plain, "!" quoted or
// block (a string), else an explicit tag. go-yaml honours the core tags
// (!!int "42" is 42, !!str 42 is "42") and keeps any other tag's text.
absl::StatusOr<Scalar> Resolve(const std::string& tag, const std::string& text) {
  if (tag == "?") return ResolvePlain(text);
  Scalar str;
  if (!absl::StartsWith(tag, kCoreTag)) return str;
  const absl::string_view want = absl::string_view(tag).substr(kCoreTag.size());
  if (want == "binary")
    return absl::InvalidArgumentError(
        "!!binary is not supported: give the base64 text as a plain string");
  if (want != "int" && want != "float" && want != "bool" && want != "null") return str;
  Scalar r = ResolvePlain(text);
  if (want == "float" && (r.type == Scalar::kInt || r.type == Scalar::kUint)) {
    r.d = r.type == Scalar::kInt ? static_cast<double>(r.i) : static_cast<double>(r.u);
    r.type = Scalar::kFloat;
  }
  const bool ok = want == "int"     ? (r.type == Scalar::kInt || r.type == Scalar::kUint)
                  : want == "float" ? r.type == Scalar::kFloat
                  : want == "bool"  ? r.type == Scalar::kBool
                                    : r.type == Scalar::kNull;
  if (!ok) return absl::InvalidArgumentError(absl::StrCat("`", Shown(text), "` is not a !!", want));
  return r;
}

// What a scalar is in JSON. A whole float is written as an integer, as Go's
// encoding/json writes it (an int field refuses 3.0 but takes 3).
Value ToJson(const Scalar& s, const std::string& text, Allocator& a) {
  Value v;
  switch (s.type) {
    case Scalar::kNull:
      break;
    case Scalar::kBool:
      v.SetBool(s.b);
      break;
    case Scalar::kInt:
      v.SetInt64(s.i);
      break;
    case Scalar::kUint:
      v.SetUint64(s.u);
      break;
    case Scalar::kFloat:
      if (std::trunc(s.d) == s.d && std::fabs(s.d) < 9.2e18) {
        v.SetInt64(static_cast<int64_t>(s.d));
      } else {
        v.SetDouble(s.d);
      }
      break;
    case Scalar::kString:
      v.SetString(text.data(), static_cast<rapidjson::SizeType>(text.size()), a);
      break;
  }
  return v;
}

// What sigs.k8s.io/yaml makes of a key: numbers and booleans become their
// text (`8080:` is "8080", go-yaml's `0x10:` is "16"); anything else has no key.
std::optional<std::string> KeyText(const Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  if (v.IsInt64()) return absl::StrCat(v.GetInt64());
  if (v.IsUint64()) return absl::StrCat(v.GetUint64());
  if (v.IsDouble()) return absl::StrCat(v.GetDouble());
  return std::nullopt;
}

// ---- YAML events to JSON ----

// Thrown by the event handler to stop yaml-cpp at once (an alias bomb is not
// parsed to its end); caught in ConfineRendered, never leaves this file.
struct Stop {
  YAML::Mark mark;
  absl::StatusCode code;
  std::string message;
};

// Builds each document of the stream as a JSON value, bounding what aliases
// expand to and how deep values nest.
class JsonBuilder final : public YAML::EventHandler {
 public:
  explicit JsonBuilder(const RenderLimits& limits) : limits_(limits) {}

  // The current document (valid until the next one starts).
  bool started() const { return doc_ != nullptr; }
  bool has_root() const { return has_root_; }
  Value& root() { return root_; }
  Allocator& alloc() { return doc_->GetAllocator(); }
  // Lines (0-based) for finding the document's "# Source:" comment: the last
  // line any earlier document reached, the line of this one's first node.
  int previous_last_line() const { return previous_last_line_; }
  int last_line() const { return last_line_; }
  int first_line() const { return first_line_; }
  // Before each document: the previous one's values go with its allocator.
  void Reset() {
    stack_.clear();
    anchors_.clear();
    root_.SetNull();
    has_root_ = false;
    doc_.reset();
  }

  void OnDocumentStart(const YAML::Mark& /*mark*/) override {
    Reset();
    doc_ = std::make_unique<rapidjson::Document>();
    first_line_ = -1;
    previous_last_line_ = last_line_;
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Saw(mark);
    Count(mark, 1, 0);
    if (ExpectingKey()) Fail(mark, "a null key (JSON keys are strings)");
    Value v;
    Record(anchor, v, 1, 0, 0);
    Place(mark, std::move(v), 0);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& text) override {
    Saw(mark);
    Count(mark, 1, text.size());
    absl::StatusOr<Scalar> s = Resolve(tag, text);
    if (!s.ok()) Fail(mark, std::string(s.status().message()));
    if (s->type == Scalar::kFloat && !std::isfinite(s->d))
      Fail(mark,
           absl::StrCat("`", Shown(text), "` is not a finite number (JSON has no .inf or .nan)"));
    Value v = ToJson(*s, text, alloc());
    Record(anchor, v, 1, text.size(), 0);
    if (ExpectingKey()) {
      // `<<: *base` (YAML 1.1's merge key, which go-yaml honours).
      const bool merge = tag == "?" && text == "<<";
      SetKey(mark, v, merge);
      return;
    }
    Place(mark, std::move(v), 0);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Saw(mark);
    if (anchor >= anchors_.size() || !anchors_[anchor].done)
      Fail(mark, "an alias inside the node its anchor names");
    const Anchored& a = anchors_[anchor];
    Count(mark, a.values, a.text);
    CheckDepth(mark, stack_.size() + a.height);
    Value v(a.value, alloc());
    if (ExpectingKey()) {
      SetKey(mark, v, false);
      return;
    }
    Place(mark, std::move(v), a.height);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    Open(mark, anchor, false);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    Open(mark, anchor, true);
  }
  void OnMapEnd() override { Close(); }

 private:
  // A mapping or sequence being built.
  struct Frame {
    Value value;
    bool map = false;
    YAML::Mark mark;
    YAML::anchor_t anchor = 0;
    size_t values_at = 0, text_at = 0;  // the counters when it opened
    size_t height = 0;                  // of its tallest child
    // Mappings: the key whose value comes next, the keys so far (a duplicate
    // is refused: the API server would read the last, the checks here the
    // first), and the `<<` merges, applied when the mapping closes.
    bool have_key = false, merge = false;
    std::string key;
    absl::flat_hash_set<std::string> keys;
    std::vector<Value> merges;
  };
  // An anchored node, copied at each alias (with its counts, charged again).
  struct Anchored {
    Value value;
    size_t values = 0, text = 0, height = 0;
    bool done = false;
  };

  [[noreturn]] static void Fail(const YAML::Mark& mark, std::string message,
                                absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
    throw Stop{mark, code, std::move(message)};
  }

  void Saw(const YAML::Mark& mark) {
    if (mark.is_null()) return;
    if (first_line_ < 0) first_line_ = mark.line;
    last_line_ = std::max(last_line_, mark.line);
  }

  void Count(const YAML::Mark& mark, size_t values, size_t text) {
    values_ += values;
    text_ += text;
    if (values_ > limits_.max_values)
      Fail(mark,
           absl::StrCat("the chart expands to more than ", limits_.max_values,
                        " values (each alias counts what it repeats)"),
           absl::StatusCode::kResourceExhausted);
    if (text_ > limits_.max_text)
      Fail(mark,
           absl::StrCat("the chart expands to more than ", limits_.max_text,
                        " bytes of text (each alias counts what it repeats)"),
           absl::StatusCode::kResourceExhausted);
  }

  void CheckDepth(const YAML::Mark& mark, size_t depth) const {
    if (depth > limits_.max_depth)
      Fail(mark, absl::StrCat("values nest deeper than ", limits_.max_depth),
           absl::StatusCode::kResourceExhausted);
  }

  bool ExpectingKey() const {
    return !stack_.empty() && stack_.back().map && !stack_.back().have_key;
  }

  void SetKey(const YAML::Mark& mark, const Value& v, bool merge) {
    Frame& f = stack_.back();
    f.have_key = true;
    f.merge = merge;
    if (merge) return;
    std::optional<std::string> key = KeyText(v);
    if (!key) Fail(mark, "a mapping key that is not a string, number or boolean");
    if (!f.keys.insert(*key).second)
      Fail(mark, absl::StrCat("duplicate key \"", Shown(*key), "\""));
    f.key = std::move(*key);
  }

  void Record(YAML::anchor_t anchor, const Value& v, size_t values, size_t text, size_t height) {
    if (anchor == 0) return;
    if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
    Anchored& a = anchors_[anchor];
    a.value.CopyFrom(v, alloc());
    a.values = values;
    a.text = text;
    a.height = height;
    a.done = true;
  }

  void Open(const YAML::Mark& mark, YAML::anchor_t anchor, bool map) {
    Saw(mark);
    Count(mark, 1, 0);
    if (ExpectingKey())
      Fail(mark, absl::StrCat("a ", map ? "mapping" : "sequence",
                              " as a mapping key (JSON keys are strings)"));
    CheckDepth(mark, stack_.size() + 1);
    if (anchor != 0) {
      if (anchors_.size() <= anchor) anchors_.resize(anchor + 1);
      anchors_[anchor].done = false;  // an alias to it from inside is refused
    }
    Frame& f = stack_.emplace_back();
    if (map) {
      f.value.SetObject();
    } else {
      f.value.SetArray();
    }
    f.map = map;
    f.mark = mark;
    f.anchor = anchor;
    f.values_at = values_;
    f.text_at = text_;
  }

  void Close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    // Explicit keys win over merged ones, an earlier merge over a later one.
    for (Value& from : f.merges) {
      if (from.IsObject()) {
        MergeInto(f, from);
      } else {
        for (Value& item : from.GetArray()) MergeInto(f, item);
      }
    }
    const size_t height = f.height + 1;
    Record(f.anchor, f.value, values_ - f.values_at, text_ - f.text_at, height);
    Place(f.mark, std::move(f.value), height);
  }

  void MergeInto(Frame& f, Value& from) {
    // By index: clang's C++20 rules find RapidJSON 1.1's mutable member
    // iterators' != ambiguous (docs/development.md).
    for (rapidjson::SizeType i = 0; i < from.MemberCount(); ++i) {
      auto& m = from.MemberBegin()[i];
      std::string key(m.name.GetString(), m.name.GetStringLength());
      if (f.keys.insert(std::move(key)).second) f.value.AddMember(m.name, m.value, alloc());
    }
  }

  void Place(const YAML::Mark& mark, Value v, size_t height) {
    if (stack_.empty()) {
      root_ = std::move(v);
      has_root_ = true;
      return;
    }
    Frame& f = stack_.back();
    f.height = std::max(f.height, height);
    if (!f.map) {
      f.value.PushBack(v, alloc());
      return;
    }
    f.have_key = false;
    if (f.merge) {
      bool ok = v.IsObject();
      if (v.IsArray()) {
        ok = true;
        for (const Value& item : v.GetArray()) ok = ok && item.IsObject();
      }
      if (!ok) Fail(mark, "a merge (<<) takes a mapping or a list of mappings");
      f.merges.push_back(std::move(v));
      return;
    }
    Value key(f.key.data(), static_cast<rapidjson::SizeType>(f.key.size()), alloc());
    f.value.AddMember(key, v, alloc());
  }

  const RenderLimits& limits_;
  std::unique_ptr<rapidjson::Document> doc_;  // the current document's values
  std::vector<Frame> stack_;
  std::vector<Anchored> anchors_;  // by yaml-cpp's anchor id, per document
  Value root_;
  bool has_root_ = false;
  size_t values_ = 0, text_ = 0;  // over the whole stream
  int first_line_ = -1, last_line_ = -1, previous_last_line_ = -1;
};

// helm's "# Source: <chart>/templates/<file>" comments, by line.
class SourceComments {
 public:
  explicit SourceComments(absl::string_view yaml) {
    int line = 0;
    for (absl::string_view l : absl::StrSplit(yaml, '\n')) {
      absl::string_view file = l;
      if (absl::ConsumePrefix(&file, "# Source: "))
        comments_.emplace_back(line, std::string(absl::StripAsciiWhitespace(file)));
      ++line;
    }
  }

  // The last comment on a line in (after, upto], or "".
  absl::string_view Between(int after, int upto) const {
    auto it = std::upper_bound(comments_.begin(), comments_.end(), upto,
                               [](int line, const auto& c) { return line < c.first; });
    if (it == comments_.begin() || std::prev(it)->first <= after) return {};
    return std::prev(it)->second;
  }

 private:
  std::vector<std::pair<int, std::string>> comments_;
};

// ---- Confinement (docs/contract.md, "Rendered charts") ----

struct Allowed {
  absl::string_view kind, api_version;
  const kube::Resource* resource;
};
constexpr Allowed kAllowed[] = {
    {"ConfigMap", "v1", &kube::resources::kConfigMaps},
    {"Secret", "v1", &kube::resources::kSecrets},
    {"Service", "v1", &kube::resources::kServices},
    {"ServiceAccount", "v1", &kube::resources::kServiceAccounts},
    {"PersistentVolumeClaim", "v1", &kube::resources::kPersistentVolumeClaims},
    {"Deployment", "apps/v1", &kube::resources::kDeployments},
    {"StatefulSet", "apps/v1", &kube::resources::kStatefulSets},
    {"Job", "batch/v1", &kube::resources::kJobs},
    {"CronJob", "batch/v1", &kube::resources::kCronJobs},
    {"PodDisruptionBudget", "policy/v1", &kube::resources::kPodDisruptionBudgets},
    {"HorizontalPodAutoscaler", "autoscaling/v2", &kube::resources::kHorizontalPodAutoscalers},
};

// Why a kind off the list is refused, where there is more to say than that.
constexpr std::pair<absl::string_view, absl::string_view> kRefusedKinds[] = {
    {"Role", "RBAC is the platform's: a role could grant more than the chart's own objects"},
    {"RoleBinding", "RBAC is the platform's: a binding could grant more than the namespace"},
    {"NetworkPolicy",
     "policies are additive: one from the chart could open what the operator's policies close"},
    {"Ingress", "a host is a name all tenants share: the operator makes the environment's Ingress"},
    {"DaemonSet", "it runs a pod on every node"},
    {"Pod", "a bare pod is not rolled out or replaced: use a Deployment, StatefulSet or Job"},
    {"ReplicaSet", "use a Deployment"},
    {"ReplicationController", "use a Deployment"},
    {"ResourceQuota", "the namespace's quota is the operator's"},
    {"LimitRange", "the namespace's limits are the platform's"},
    {"Endpoints", "it could point a Service at addresses outside the namespace"},
    {"EndpointSlice", "it could point a Service at addresses outside the namespace"},
};
constexpr absl::string_view kClusterScoped[] = {
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "CSIDriver",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
};

// The names the operator writes in an environment namespace whatever its
// mode (naming.h), and the namespace's own (its default ServiceAccount, which
// git-clone's token is minted for; the API server's CA bundle). SSA from the
// chart would take them over and a later prune delete them. The config
// modes' workloads (Deployments and Services web, postgres, workspace) are
// not among them: the operator makes none in helm or compose mode, and
// `web`/`postgres` are what compose files name their services (a Service's
// name is the host the others connect to).
const std::pair<absl::string_view, absl::string_view> kReserved[] = {
    {"Secret", kDbSecretName},
    {"Secret", kTeamSecretName},
    {"Secret", kRegistrySecretName},
    {"PersistentVolumeClaim", kPostgresPvcName},
    {"PersistentVolumeClaim", kWorkspacePvcName},
    {"ServiceAccount", "default"},
    {"ConfigMap", "kube-root-ca.crt"},
};

bool Reserved(absl::string_view kind, absl::string_view name) {
  return std::find(std::begin(kReserved), std::end(kReserved),
                   std::pair<absl::string_view, absl::string_view>(kind, name)) !=
         std::end(kReserved);
}

// Kubernetes' name rules (k8s.io/apimachinery validation).
bool Dns1123Subdomain(absl::string_view s, size_t max = 253) {
  if (s.empty() || s.size() > max) return false;
  for (absl::string_view part : absl::StrSplit(s, '.')) {
    if (part.empty() || part.front() == '-' || part.back() == '-') return false;
    for (char c : part)
      if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'z') && c != '-') return false;
  }
  return true;
}
bool Dns1035Label(absl::string_view s) {
  return v1alpha1::ValidDnsLabel(s) && s.front() >= 'a' && s.front() <= 'z';
}

// "" when the name suits the kind, else why not.
std::string NameProblem(absl::string_view kind, absl::string_view name) {
  if (kind == "Service") {
    if (!Dns1035Label(name))
      return "metadata.name must be a DNS-1035 label (a-z first, then a-z, 0-9, '-', at most 63)";
  } else if (kind == "StatefulSet") {
    // Its pods' names are their hostnames.
    if (!v1alpha1::ValidDnsLabel(name))
      return "metadata.name must be a DNS-1123 label (a-z, 0-9, '-', at most 63)";
  } else if (kind == "CronJob") {
    // The Jobs it makes append 11 characters.
    if (!Dns1123Subdomain(name, 52))
      return "metadata.name must be a DNS-1123 subdomain of at most 52 characters";
  } else if (!Dns1123Subdomain(name)) {
    return "metadata.name must be a DNS-1123 subdomain (a-z, 0-9, '-', '.', at most 253)";
  }
  return "";
}

// A copied string (RapidJSON asserts on an empty view's null pointer).
Value JsonString(absl::string_view s, Allocator& a) {
  return Value(s.empty() ? "" : s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

Value* MutableMember(Value& v, absl::string_view key) {
  if (!v.IsObject()) return nullptr;
  for (rapidjson::SizeType i = 0; i < v.MemberCount(); ++i) {  // by index: as in MergeInto
    auto& m = v.MemberBegin()[i];
    if (absl::string_view(m.name.GetString(), m.name.GetStringLength()) == key) return &m.value;
  }
  return nullptr;
}

const Value* Find(const Value& v, std::initializer_list<absl::string_view> path) {
  const Value* at = &v;
  for (absl::string_view key : path)
    if (!(at = kube::Member(*at, key))) return nullptr;
  return at;
}

bool Absent(const Value* v) { return v == nullptr || v->IsNull(); }

// Pod template fields that reach onto the node. Pod Security baseline
// refuses such pods too, but only once the controller makes them: the
// workload would be accepted and never run.
std::string PodSpecProblem(const Value& spec, absl::string_view at) {
  static constexpr std::pair<absl::string_view, absl::string_view> kHostFields[] = {
      {"hostNetwork", "the node's network"},
      {"hostPID", "the node's processes"},
      {"hostIPC", "the node's IPC"},
  };
  for (const auto& [field, what] : kHostFields) {
    const Value* v = kube::Member(spec, field);
    if (!Absent(v) && !(v->IsBool() && !v->GetBool()))
      return absl::StrCat(at, ".", field, " is set: the pods would share ", what);
  }
  // Where and before whom the pods run is the platform's: a priority class
  // preempts other teams' pods, a node name or a scheduler skips the
  // scheduler's placement, a runtime class picks the node's sandbox.
  static constexpr std::pair<absl::string_view, absl::string_view> kPlatformFields[] = {
      {"priorityClassName", "a priority class would preempt other teams' pods"},
      {"priority", "a priority would preempt other teams' pods"},
      {"nodeName", "a node name bypasses the scheduler"},
      {"schedulerName", "another scheduler bypasses the platform's"},
      {"runtimeClassName", "the runtime class is the platform's"},
  };
  for (const auto& [field, why] : kPlatformFields)
    if (!Absent(kube::Member(spec, field))) return absl::StrCat(at, ".", field, " is set: ", why);
  const Value* volumes = kube::Member(spec, "volumes");
  if (volumes && volumes->IsArray()) {
    for (rapidjson::SizeType i = 0; i < volumes->Size(); ++i) {
      const Value& vol = (*volumes)[i];
      if (!Absent(kube::Member(vol, "hostPath")))
        return absl::StrCat(at, ".volumes[", i, "] (",
                            Shown(kube::StrOf(kube::Member(vol, "name"))),
                            ") is a hostPath volume: a directory of the node");
    }
  }
  return "";
}

std::string ClaimProblem(const Value& spec, absl::string_view at) {
  if (!kube::StrOf(kube::Member(spec, "volumeName")).empty())
    return absl::StrCat(at,
                        ".volumeName is set: PersistentVolumes are cluster-scoped, the "
                        "platform's to bind");
  return "";
}

// The checks of one kind beyond kind, namespace and name: "" or why not.
std::string KindProblem(absl::string_view kind, const Value& obj) {
  if (kind == "Service") {
    const Value* type = Find(obj, {"spec", "type"});
    if (!Absent(type) && kube::StrOf(type) != "ClusterIP") {
      const absl::string_view t = kube::StrOf(type);
      return absl::StrCat("spec.type ", t.empty() ? "(not a string)" : Shown(t),
                          t == "ExternalName"
                              ? ": it points a name of the namespace elsewhere"
                              : ": only ClusterIP (a node port or load balancer reaches beyond "
                                "the namespace)");
    }
    const Value* ips = Find(obj, {"spec", "externalIPs"});
    if (!Absent(ips) && !(ips->IsArray() && ips->Empty()))
      return "spec.externalIPs is set: it would capture those addresses' traffic on every node";
    return "";
  }
  if (kind == "Secret") {
    if (kube::StrOf(kube::Member(obj, "type")) == "kubernetes.io/service-account-token")
      return "type kubernetes.io/service-account-token: a stored token never expires (tokens "
             "come from the TokenRequest API)";
    return "";
  }
  if (kind == "PersistentVolumeClaim") {
    const Value* spec = kube::Member(obj, "spec");
    return spec ? ClaimProblem(*spec, "spec") : "";
  }
  if (kind == "HorizontalPodAutoscaler") {
    const absl::string_view target_kind =
        kube::StrOf(Find(obj, {"spec", "scaleTargetRef", "kind"}));
    const absl::string_view target = kube::StrOf(Find(obj, {"spec", "scaleTargetRef", "name"}));
    if (Reserved(target_kind, target))
      return absl::StrCat("spec.scaleTargetRef names the operator's ", target_kind, " ", target);
    return "";
  }
  const bool cron = kind == "CronJob";
  // The TTL controller deletes a finished Job, and the operator would make it
  // (and run it) again at the next pass: a Job stays until the chart drops it.
  if (kind == "Job" && !Absent(Find(obj, {"spec", "ttlSecondsAfterFinished"})))
    return "spec.ttlSecondsAfterFinished is set: the operator would run the Job again once it is "
           "deleted";
  // The label of the operator's build Jobs and their pods: allow-build's
  // egress selects it, and the operator prunes Jobs that carry it.
  for (const auto& [labels, where] :
       {std::pair{Find(obj, {"metadata", "labels"}), "metadata.labels"},
        {Find(obj, {"spec", "template", "metadata", "labels"}), "spec.template.metadata.labels"},
        {Find(obj, {"spec", "jobTemplate", "spec", "template", "metadata", "labels"}),
         "spec.jobTemplate.spec.template.metadata.labels"}})
    if (labels && labels->IsObject() && kube::Member(*labels, kBuildLabel))
      return absl::StrCat(where, " has ", kBuildLabel, ": the label of the operator's build pods");
  if (cron || kind == "Deployment" || kind == "StatefulSet" || kind == "Job") {
    const Value* spec = cron ? Find(obj, {"spec", "jobTemplate", "spec", "template", "spec"})
                             : Find(obj, {"spec", "template", "spec"});
    if (spec) {
      std::string p = PodSpecProblem(
          *spec, cron ? "spec.jobTemplate.spec.template.spec" : "spec.template.spec");
      if (!p.empty()) return p;
    }
    const Value* claims = Find(obj, {"spec", "volumeClaimTemplates"});
    if (kind == "StatefulSet" && claims && claims->IsArray()) {
      for (rapidjson::SizeType i = 0; i < claims->Size(); ++i) {
        const Value* claim_spec = kube::Member((*claims)[i], "spec");
        std::string p =
            claim_spec
                ? ClaimProblem(*claim_spec, absl::StrCat("spec.volumeClaimTemplates[", i, "].spec"))
                : "";
        if (!p.empty()) return p;
      }
    }
  }
  return "";
}

std::string AllowedKinds() {
  std::vector<absl::string_view> kinds;
  for (const Allowed& a : kAllowed) kinds.push_back(a.kind);
  return absl::StrJoin(kinds, ", ");
}

// Helm creates a test hook only on `helm test`, never on install.
bool TestHook(const Value& obj) {
  const absl::string_view hooks =
      kube::StrOf(Find(obj, {"metadata", "annotations", "helm.sh/hook"}));
  if (hooks.empty()) return false;
  // Helm runs these only on `helm test`, `helm uninstall` and `helm
  // rollback`, none of which the operator does: applied, a pre-delete
  // cleanup Job would run at every deploy.
  for (absl::string_view h : absl::StrSplit(hooks, ',')) {
    h = absl::StripAsciiWhitespace(h);
    if (h != "test" && h != "test-success" && h != "pre-delete" && h != "post-delete" &&
        h != "pre-rollback" && h != "post-rollback")
      return false;
  }
  return true;
}

// Collects the stream's objects, each checked; the first refusals are kept
// to be named together.
class Confiner {
 public:
  Confiner(absl::string_view ns, const RenderLimits& limits) : ns_(ns), limits_(limits) {}

  // A document's root. An error stops the parse (a limit, a document that is
  // not an object); a refused object is only noted.
  absl::Status Add(Value& root, Allocator& a, const std::string& where) {
    if (!root.IsObject())
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": a document must be a mapping (an object), not ",
                       root.IsArray() ? "a sequence" : "a scalar"));
    const absl::string_view kind = kube::StrOf(kube::Member(root, "kind"));
    Value* items = MutableMember(root, "items");
    if (!absl::EndsWith(kind, "List") || !items || !(items->IsArray() || items->IsNull()))
      return One(root, a, where);
    // kubectl's flattening; a <Kind>List's items may leave kind and apiVersion to it.
    if (items->IsNull()) return absl::OkStatus();
    const absl::string_view item_kind = absl::string_view(kind).substr(0, kind.size() - 4);
    const absl::string_view api_version = kube::StrOf(kube::Member(root, "apiVersion"));
    for (rapidjson::SizeType i = 0; i < items->Size(); ++i) {
      Value& item = (*items)[i];
      const std::string at = absl::StrCat(where, " items[", i, "]");
      if (!item.IsObject()) {
        if (absl::Status s = Refuse(at, "an item that is not an object"); !s.ok()) return s;
        continue;
      }
      if (!item_kind.empty()) {
        if (Absent(kube::Member(item, "kind"))) item.AddMember("kind", JsonString(item_kind, a), a);
        if (Absent(kube::Member(item, "apiVersion")))
          item.AddMember("apiVersion", JsonString(api_version, a), a);
      }
      const Value* inner = kube::Member(item, "items");
      if (absl::EndsWith(kube::StrOf(kube::Member(item, "kind")), "List") && inner &&
          inner->IsArray()) {
        if (absl::Status s = Refuse(at, "a List inside a List"); !s.ok()) return s;
        continue;
      }
      if (absl::Status s = One(item, a, at); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<RenderedObject>> Finish() && {
    if (refused_ == 0) return std::move(out_);
    std::string message = absl::StrCat(
        "the rendered chart is refused (docs/contract.md, \"Rendered charts\"); nothing of it is "
        "applied: ",
        absl::StrJoin(reasons_, "; "));
    if (refused_ > reasons_.size())
      absl::StrAppend(&message, "; and ", refused_ - reasons_.size(), " more");
    return absl::InvalidArgumentError(message);
  }

 private:
  static constexpr size_t kReasonsShown = 8;

  absl::Status Counted() {
    if (out_.size() + refused_ >= limits_.max_objects)
      return absl::ResourceExhaustedError(
          absl::StrCat("the rendered chart has more than ", limits_.max_objects, " objects"));
    return absl::OkStatus();
  }

  absl::Status Refuse(const std::string& where, absl::string_view why) {
    if (absl::Status s = Counted(); !s.ok()) return s;
    ++refused_;
    if (reasons_.size() < kReasonsShown) reasons_.push_back(absl::StrCat(where, ": ", why));
    return absl::OkStatus();
  }

  absl::Status One(Value& obj, Allocator& a, const std::string& where) {
    if (TestHook(obj)) return absl::OkStatus();
    const absl::string_view kind = kube::StrOf(kube::Member(obj, "kind"));
    const absl::string_view api_version = kube::StrOf(kube::Member(obj, "apiVersion"));
    const absl::string_view name = kube::StrOf(Find(obj, {"metadata", "name"}));
    const std::string label = absl::StrCat(where, ": ", kind.empty() ? "(no kind)" : Shown(kind),
                                           "/", name.empty() ? "(no name)" : Shown(name, 253));
    std::string why = Why(obj, a, kind, api_version, name);
    if (!why.empty()) return Refuse(label, why);
    if (absl::Status s = Counted(); !s.ok()) return s;
    out_.push_back(RenderedObject{Resource(kind), kube::Object::Copy(obj)});
    return absl::OkStatus();
  }

  static const kube::Resource* Resource(absl::string_view kind) {
    for (const Allowed& a : kAllowed)
      if (a.kind == kind) return a.resource;
    return nullptr;
  }

  // "" when obj may be applied (its namespace then set), else why not.
  std::string Why(Value& obj, Allocator& a, absl::string_view kind, absl::string_view api_version,
                  absl::string_view name) {
    if (kind.empty()) return "no kind";
    const Allowed* allowed = nullptr;
    for (const Allowed& k : kAllowed)
      if (k.kind == kind) allowed = &k;
    if (!allowed) {
      for (const auto& [k, why] : kRefusedKinds)
        if (k == kind) return absl::StrCat("not allowed: ", why);
      if (OneOf(kind, kClusterScoped))
        return "not allowed: cluster-scoped, outside the environment namespace";
      return absl::StrCat("not a kind a chart may create here (only ", AllowedKinds(), ")");
    }
    if (api_version != allowed->api_version)
      return absl::StrCat("apiVersion ", api_version.empty() ? "(none)" : Shown(api_version),
                          ": only ", allowed->api_version, " is applied");
    Value* metadata = MutableMember(obj, "metadata");
    if (!metadata || !metadata->IsObject()) return "no metadata";
    if (name.empty())
      return Absent(kube::Member(*metadata, "generateName"))
                 ? "no metadata.name"
                 : "no metadata.name (generateName would make a new object at every apply)";
    if (std::string p = NameProblem(kind, name); !p.empty()) return p;
    Value* ns = MutableMember(*metadata, "namespace");
    if (ns && !ns->IsNull() && !ns->IsString()) return "metadata.namespace is not a string";
    if (ns && ns->IsString() && ns->GetStringLength() > 0 && kube::StrOf(ns) != ns_)
      return absl::StrCat("metadata.namespace ", Shown(kube::StrOf(ns)),
                          ": a chart writes only into its environment namespace ", ns_);
    if (Reserved(kind, name)) return "the name is the operator's own";
    // A finalizer nobody removes would hold the namespace in Terminating for
    // ever; owners are the operator's to set (its labels and prune).
    const Value* finalizers = kube::Member(*metadata, "finalizers");
    if (!Absent(finalizers) && !(finalizers->IsArray() && finalizers->Empty()))
      return "metadata.finalizers is set: no controller of the chart's would remove them, and the "
             "namespace could never be deleted";
    const Value* owners = kube::Member(*metadata, "ownerReferences");
    if (!Absent(owners) && !(owners->IsArray() && owners->Empty()))
      return "metadata.ownerReferences is set: what the chart makes is owned by its Environment";
    if (!seen_.insert(absl::StrCat(kind, "/", name)).second) return "rendered twice";
    if (std::string p = KindProblem(kind, obj); !p.empty()) return p;
    if (ns) {
      ns->SetString(ns_.data(), static_cast<rapidjson::SizeType>(ns_.size()), a);
    } else {
      metadata->AddMember("namespace", JsonString(ns_, a), a);
    }
    return "";
  }

  const std::string ns_;
  const RenderLimits& limits_;
  std::vector<RenderedObject> out_;
  absl::flat_hash_set<std::string> seen_;
  std::vector<std::string> reasons_;
  size_t refused_ = 0;
};

std::string DocumentName(int index, absl::string_view source) {
  if (source.empty()) return absl::StrCat("document ", index);
  return absl::StrCat("document ", index, " (", Shown(source, 253), ")");
}

std::string AtLine(const YAML::Mark& mark) {
  if (mark.is_null()) return "";
  return absl::StrCat(" at line ", mark.line + 1, ", column ", mark.column + 1);
}

}  // namespace

absl::StatusOr<std::vector<RenderedObject>> ConfineRendered(absl::string_view yaml,
                                                            absl::string_view ns,
                                                            const RenderLimits& limits) {
  if (yaml.size() > limits.max_bytes)
    return absl::ResourceExhaustedError(absl::StrCat("the rendered chart is ", yaml.size(),
                                                     " bytes, more than the ", limits.max_bytes,
                                                     " allowed"));
  if (ns.empty())
    return absl::InvalidArgumentError("no environment namespace to confine the chart to");
  const SourceComments sources(yaml);
  JsonBuilder builder(limits);
  Confiner confiner(ns, limits);
  int index = 0;
  // The document an error is in, named by helm's comment before its first node.
  auto where = [&](int upto) {
    const int after = builder.started() ? builder.previous_last_line() : builder.last_line();
    const int first = builder.started() ? builder.first_line() : -1;
    return DocumentName(index, sources.Between(after, first >= 0 ? first : upto));
  };
  try {
    std::istringstream in{std::string(yaml)};
    YAML::Parser parser(in);
    while (true) {
      ++index;
      // yaml-cpp 0.7 reports a token out of place (a stream starting with
      // ",") as an empty document without consuming it, for ever (found by
      // the compose fuzzer): a stream is held to documents enough for its
      // objects and as many empty ones.
      if (static_cast<size_t>(index) > 2 * limits.max_objects + 1024)
        return absl::ResourceExhaustedError(absl::StrCat(
            "more than ", 2 * limits.max_objects + 1024,
            " YAML documents (or a token yaml-cpp reads as empty documents for ever)"));
      builder.Reset();
      if (!parser.HandleNextDocument(builder)) break;
      if (!builder.has_root() || builder.root().IsNull()) continue;  // empty, or `null`
      if (absl::Status s =
              confiner.Add(builder.root(), builder.alloc(), where(builder.first_line()));
          !s.ok())
        return s;
    }
  } catch (const Stop& stop) {
    return absl::Status(stop.code,
                        absl::StrCat(where(stop.mark.line), AtLine(stop.mark), ": ", stop.message));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(where(e.mark.line), ": invalid YAML", AtLine(e.mark), ": ", e.msg));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat(where(-1), ": out of memory"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(where(-1), ": ", e.what()));
  }
  return std::move(confiner).Finish();
}

}  // namespace controllers

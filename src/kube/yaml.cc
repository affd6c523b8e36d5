#include "kube/yaml.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"

namespace kube {
namespace {

const YamlNode kNullNode;
const std::string kEmpty;

struct Line {
  int number;  // 1-based, for messages
  size_t indent;
  std::string text;  // without indentation and trailing comment
};

// Drops a trailing comment that is outside quotes.
absl::string_view StripComment(absl::string_view s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote) {
      if (c == '\\' && quote == '"')
        ++i;
      else if (c == quote)
        quote = 0;
    } else if (c == '"' || c == '\'') {
      if (i == 0 || s[i - 1] == ' ' || s[i - 1] == ':' || s[i - 1] == '-') quote = c;
    } else if (c == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
      return s.substr(0, i);
    }
  }
  return s;
}

class Parser {
 public:
  explicit Parser(std::vector<Line> lines) : lines_(std::move(lines)) {}

  absl::StatusOr<YamlNode> Document() {
    if (lines_.empty()) return YamlNode{};
    auto node = Block(lines_[0].indent);
    if (!node.ok()) return node;
    if (pos_ < lines_.size()) return Error(lines_[pos_], "unexpected indentation");
    return node;
  }

 private:
  static absl::Status Error(const Line& l, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("yaml line ", l.number, ": ", what));
  }

  static bool IsSeqItem(absl::string_view t) { return t == "-" || t.rfind("- ", 0) == 0; }

  // Position of the "key:" separator, or npos.
  static size_t KeyColon(absl::string_view t) {
    if (t.empty()) return absl::string_view::npos;
    if (t[0] == '"' || t[0] == '\'') {
      size_t close = t.find(t[0], 1);
      if (close == absl::string_view::npos) return close;
      return (close + 1 < t.size() && t[close + 1] == ':') ? close + 1 : absl::string_view::npos;
    }
    for (size_t i = 0; i < t.size(); ++i)
      if (t[i] == ':' && (i + 1 == t.size() || t[i + 1] == ' ')) return i;
    return absl::string_view::npos;
  }

  absl::StatusOr<YamlNode> Block(size_t indent) {
    if (IsSeqItem(lines_[pos_].text)) return Sequence(indent);
    if (KeyColon(lines_[pos_].text) != absl::string_view::npos) return Mapping(indent);
    // A lone scalar as a whole block.
    const Line& l = lines_[pos_++];
    return Scalar(l, l.text);
  }

  absl::StatusOr<YamlNode> Sequence(size_t indent) {
    YamlNode node{.kind = YamlNode::Kind::kSeq};
    while (pos_ < lines_.size() && lines_[pos_].indent == indent && IsSeqItem(lines_[pos_].text)) {
      Line& l = lines_[pos_];
      std::string rest =
          l.text == "-"
              ? ""
              : std::string(absl::StripLeadingAsciiWhitespace(absl::string_view(l.text).substr(2)));
      if (rest.empty()) {
        ++pos_;
        if (pos_ < lines_.size() && lines_[pos_].indent > indent) {
          auto child = Block(lines_[pos_].indent);
          if (!child.ok()) return child;
          node.seq.push_back(std::move(*child));
        } else {
          node.seq.emplace_back();
        }
        continue;
      }
      // "- key: v" opens a mapping whose keys sit at the dash's indent + 2.
      const size_t inner = indent + (l.text.size() - rest.size());
      l.indent = inner;
      l.text = rest;
      auto child = Block(inner);
      if (!child.ok()) return child;
      node.seq.push_back(std::move(*child));
    }
    return node;
  }

  absl::StatusOr<YamlNode> Mapping(size_t indent) {
    YamlNode node{.kind = YamlNode::Kind::kMap};
    while (pos_ < lines_.size() && lines_[pos_].indent == indent) {
      const Line& l = lines_[pos_];
      if (IsSeqItem(l.text)) return Error(l, "sequence item inside a mapping");
      const size_t colon = KeyColon(l.text);
      if (colon == absl::string_view::npos) return Error(l, "expected 'key: value'");
      auto key = Scalar(l, absl::string_view(l.text).substr(0, colon));
      if (!key.ok()) return key.status();
      absl::string_view value =
          absl::StripAsciiWhitespace(absl::string_view(l.text).substr(colon + 1));
      ++pos_;
      YamlNode child;
      if (!value.empty()) {
        auto v = Scalar(l, value);
        if (!v.ok()) return v.status();
        child = std::move(*v);
      } else if (pos_ < lines_.size() &&
                 (lines_[pos_].indent > indent ||
                  (lines_[pos_].indent == indent && IsSeqItem(lines_[pos_].text)))) {
        // Nested block; a sequence may sit at the key's own indent.
        auto v = Block(lines_[pos_].indent);
        if (!v.ok()) return v.status();
        child = std::move(*v);
      }
      for (const auto& k : node.keys)
        if (k == key->scalar) return Error(l, absl::StrCat("duplicate key '", k, "'"));
      node.keys.push_back(std::move(key->scalar));
      node.values.push_back(std::move(child));
    }
    return node;
  }

  static absl::StatusOr<YamlNode> Scalar(const Line& l, absl::string_view t) {
    t = absl::StripAsciiWhitespace(t);
    YamlNode n{.kind = YamlNode::Kind::kScalar};
    if (t.empty() || t == "~" || t == "null") return YamlNode{};
    if (t == "{}") return YamlNode{.kind = YamlNode::Kind::kMap};
    if (t == "[]") return YamlNode{.kind = YamlNode::Kind::kSeq};
    const char c = t[0];
    if (c == '&' || c == '*' || c == '!' || c == '|' || c == '>' || c == '{' || c == '[')
      return Error(l, absl::StrCat("unsupported YAML construct '", std::string(1, c), "'"));
    if (c == '\'') {
      if (t.size() < 2 || t.back() != '\'') return Error(l, "unterminated quoted string");
      for (size_t i = 1; i + 1 < t.size(); ++i) {
        n.scalar += t[i];
        if (t[i] == '\'' && t[i + 1] == '\'') ++i;
      }
      return n;
    }
    if (c == '"') {
      if (t.size() < 2 || t.back() != '"') return Error(l, "unterminated quoted string");
      for (size_t i = 1; i + 1 < t.size(); ++i) {
        if (t[i] != '\\') {
          n.scalar += t[i];
          continue;
        }
        if (++i + 1 > t.size() - 1) return Error(l, "dangling escape");
        switch (t[i]) {
          case 'n':
            n.scalar += '\n';
            break;
          case 't':
            n.scalar += '\t';
            break;
          case '"':
            n.scalar += '"';
            break;
          case '\\':
            n.scalar += '\\';
            break;
          case '/':
            n.scalar += '/';
            break;
          default:
            return Error(l, "unsupported escape");
        }
      }
      return n;
    }
    n.scalar = std::string(t);
    return n;
  }

  std::vector<Line> lines_;
  size_t pos_ = 0;
};

YamlNode FromJson(const rapidjson::Value& v) {
  YamlNode n;
  if (v.IsObject()) {
    n.kind = YamlNode::Kind::kMap;
    for (const auto& m : v.GetObject()) {
      n.keys.emplace_back(m.name.GetString(), m.name.GetStringLength());
      n.values.push_back(FromJson(m.value));
    }
  } else if (v.IsArray()) {
    n.kind = YamlNode::Kind::kSeq;
    for (const auto& e : v.GetArray()) n.seq.push_back(FromJson(e));
  } else if (v.IsString()) {
    n.kind = YamlNode::Kind::kScalar;
    n.scalar.assign(v.GetString(), v.GetStringLength());
  } else if (v.IsBool()) {
    n.kind = YamlNode::Kind::kScalar;
    n.scalar = v.GetBool() ? "true" : "false";
  } else if (v.IsNumber()) {
    n.kind = YamlNode::Kind::kScalar;
    n.scalar = v.IsInt64() ? std::to_string(v.GetInt64()) : std::to_string(v.GetDouble());
  }
  return n;
}

}  // namespace

const YamlNode& YamlNode::operator[](absl::string_view key) const {
  for (size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key) return values[i];
  return kNullNode;
}

const std::string& YamlNode::str() const { return kind == Kind::kScalar ? scalar : kEmpty; }

absl::StatusOr<YamlNode> ParseYaml(absl::string_view text) {
  absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(text);
  if (!trimmed.empty() && (trimmed[0] == '{' || trimmed[0] == '[')) {
    rapidjson::Document doc;
    doc.Parse(trimmed.data(), trimmed.size());
    if (doc.HasParseError())
      return absl::InvalidArgumentError(
          absl::StrCat("json: parse error at offset ", doc.GetErrorOffset()));
    return FromJson(doc);
  }
  std::vector<Line> lines;
  int number = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    absl::string_view raw = text.substr(0, nl);
    text = nl == absl::string_view::npos ? absl::string_view() : text.substr(nl + 1);
    ++number;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (raw == "---" && lines.empty()) continue;
    if (raw == "---" || raw == "...")
      return absl::InvalidArgumentError(
          absl::StrCat("yaml line ", number, ": multi-document streams are not supported"));
    size_t indent = 0;
    while (indent < raw.size() && raw[indent] == ' ') ++indent;
    if (indent < raw.size() && raw[indent] == '\t')
      return absl::InvalidArgumentError(absl::StrCat("yaml line ", number, ": tab indentation"));
    absl::string_view body = absl::StripTrailingAsciiWhitespace(StripComment(raw.substr(indent)));
    if (body.empty()) continue;
    lines.push_back({number, indent, std::string(body)});
  }
  return Parser(std::move(lines)).Document();
}

}  // namespace kube

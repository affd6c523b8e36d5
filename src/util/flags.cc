#include "util/flags.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace util {

std::string FlagSet::EnvName(absl::string_view flag) {
  return absl::StrCat("KUBE_OPERATOR_",
                      absl::AsciiStrToUpper(absl::StrReplaceAll(flag, {{"-", "_"}})));
}

void FlagSet::String(std::string name, std::string* out, std::string help) {
  flags_.push_back({std::move(name), std::move(help), *out, false, [out](absl::string_view v) {
                      *out = std::string(v);
                      return absl::OkStatus();
                    }});
}

void FlagSet::Int(std::string name, int* out, std::string help) {
  flags_.push_back(
      {std::move(name), std::move(help), std::to_string(*out), false, [out](absl::string_view v) {
         return absl::SimpleAtoi(v, out) ? absl::OkStatus()
                                         : absl::InvalidArgumentError("not an integer");
       }});
}

void FlagSet::Double(std::string name, double* out, std::string help) {
  flags_.push_back(
      {std::move(name), std::move(help), absl::StrCat(*out), false, [out](absl::string_view v) {
         return absl::SimpleAtod(v, out) ? absl::OkStatus()
                                         : absl::InvalidArgumentError("not a number");
       }});
}

void FlagSet::Bool(std::string name, bool* out, std::string help) {
  flags_.push_back(
      {std::move(name), std::move(help), *out ? "true" : "false", true, [out](absl::string_view v) {
         return absl::SimpleAtob(v, out) ? absl::OkStatus()
                                         : absl::InvalidArgumentError("not true/false");
       }});
}

void FlagSet::Duration(std::string name, absl::Duration* out, std::string help) {
  flags_.push_back({std::move(name), std::move(help), absl::FormatDuration(*out), false,
                    [out](absl::string_view v) {
                      absl::Duration d;
                      if (!absl::ParseDuration(v, &d) || d < absl::ZeroDuration())
                        return absl::InvalidArgumentError("not a duration like 5s, 2m, 1h30m");
                      *out = d;
                      return absl::OkStatus();
                    }});
}

absl::Status FlagSet::Set(const Flag& f, absl::string_view value, absl::string_view source) {
  absl::Status s = f.set(value);
  if (s.ok()) return s;
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value \"", value, "\" for ", source, ": ", s.message()));
}

absl::Status FlagSet::Parse(int argc, char** argv) {
  for (const auto& f : flags_)
    if (const char* v = std::getenv(EnvName(f.name).c_str()); v && *v)
      if (auto s = Set(f, v, EnvName(f.name)); !s.ok()) return s;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-"))
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    std::string name(arg.substr(0, arg.find('=')));
    const Flag* flag = nullptr;
    for (const auto& f : flags_)
      if (f.name == name) flag = &f;
    if (!flag) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    std::string value;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (flag->is_bool) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
    }
    if (auto s = Set(*flag, value, absl::StrCat("--", name)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string FlagSet::Usage(absl::string_view program) const {
  std::string out = absl::StrCat("Usage: ", program,
                                 " [flags]\n\nFlags (each also from its environment variable):\n");
  for (const auto& f : flags_)
    absl::StrAppend(&out, "  --", f.name, "  ", f.help, " (default \"", f.default_value, "\"; $",
                    EnvName(f.name), ")\n");
  return out;
}

}  // namespace util

// Flags: --name=value / --name value, each also settable from an environment
// variable (KUBE_OPERATOR_NAME_IN_CAPS); a bad value names the flag.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace util {

class FlagSet {
 public:
  void String(std::string name, std::string* out, std::string help);
  void Int(std::string name, int* out, std::string help);
  void Double(std::string name, double* out, std::string help);
  void Bool(std::string name, bool* out, std::string help);
  void Duration(std::string name, absl::Duration* out, std::string help);

  // Environment first, then the command line (which wins).
  absl::Status Parse(int argc, char** argv);
  std::string Usage(absl::string_view program) const;
  static std::string EnvName(absl::string_view flag);

 private:
  struct Flag {
    std::string name, help, default_value;
    bool is_bool = false;
    std::function<absl::Status(absl::string_view)> set;
  };
  absl::Status Set(const Flag& f, absl::string_view value, absl::string_view source);
  std::vector<Flag> flags_;
};

}  // namespace util

// kube-operator: turns Environment resources into running environments
// (README.md; the process is src/manager, the controller src/controllers).
#include <malloc.h>

#include <cstdio>
#include <string>

#include "build_info.h"
#include "manager/manager.h"
#include "manager/options.h"

int main(int argc, char** argv) {
  // Two malloc arenas rather than glibc's eight per core: ~15 threads would
  // otherwise each keep an arena of their own, mostly free (docs/benchmarks.md).
  // Before any thread starts.
  mallopt(M_ARENA_MAX, 2);
  manager::Options o;
  util::FlagSet flags;
  manager::RegisterFlags(flags, &o);
  if (absl::Status s = flags.Parse(argc, argv); !s.ok()) {
    std::fprintf(stderr, "kube-operator: %s\n\n%s", std::string(s.message()).c_str(),
                 flags.Usage(argv[0]).c_str());
    return 2;
  }
  if (o.help) return std::fputs(flags.Usage(argv[0]).c_str(), stdout) < 0;
  if (o.version) {
    std::printf("kube-operator %s (revision %s, %s)\n", ops::kVersion, ops::kRevision,
                ops::kCompiler);
    return 0;
  }
  // Signals go to Manager::Run only: blocked before any thread starts.
  const sigset_t signals = manager::BlockTerminationSignals();
  absl::StatusOr<std::unique_ptr<manager::Manager>> m = absl::UnknownError("not created");
  if (absl::Status s = manager::Configure(o); !s.ok())
    m = s;
  else
    m = manager::Manager::Create(o);
  if (!m.ok()) {
    std::fprintf(stderr, "kube-operator: %s\n", std::string(m.status().message()).c_str());
    return 2;
  }
  return (*m)->Run(signals);
}

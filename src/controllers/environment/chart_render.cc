#include "controllers/environment/chart_render.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "api/v1alpha1/environment.h"
#include "controllers/environment/compose.h"
#include "controllers/environment/redact.h"
#include "util/subprocess.h"
#include "util/utf8.h"

namespace controllers {
namespace {

namespace fs = std::filesystem;

// What a message quotes of a tool's stderr: its end, where git and helm say
// what failed (warnings come first).
constexpr size_t kStderrInMessage = 1024;
// What is kept of it: RunProcess keeps the head, so keep enough for the tail.
constexpr size_t kStderrKept = 256 * 1024;
// `git ls-tree` prints a short line a file: this bounds the files counted.
constexpr size_t kTreeListingMax = 16 << 20;
constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr char kTokenEnv[] = "CATALYST_GIT_TOKEN";
// git runs a "!" helper as `sh -c '<helper> get'` (or store, erase) with the
// credential's description on stdin. The token comes from the environment:
// the helper's text, which git's config holds, has none.
constexpr char kCredentialHelper[] =
    "!f() { while IFS= read -r l && [ -n \"$l\" ]; do :; done; if [ \"$1\" = get ]; then "
    "printf 'username=x-access-token\\npassword=%s\\n' \"$CATALYST_GIT_TOKEN\"; fi; }; f";

// The variables of the operator's own environment a child may see: how to
// find programs, reach the network (proxies) and trust its servers (CAs).
// Nothing else: no KUBECONFIG, no KUBERNETES_SERVICE_*, no token.
constexpr const char* kPassedOn[] = {"http_proxy",  "https_proxy", "no_proxy",      "HTTP_PROXY",
                                     "HTTPS_PROXY", "NO_PROXY",    "SSL_CERT_FILE", "SSL_CERT_DIR"};

absl::Status Step(absl::StatusCode code, absl::string_view step, absl::string_view what) {
  return absl::Status(code, absl::StrCat(step, ": ", what));
}

// The last KiB of a tool's stderr, on a character boundary.
std::string Tail(const util::ProcessResult& r) {
  absl::string_view err = absl::StripAsciiWhitespace(r.err);
  if (err.size() <= kStderrInMessage && !r.err_truncated) return std::string(err);
  return absl::StrCat("...", util::Utf8Suffix(err, kStderrInMessage));
}

std::string HowItEnded(const util::ProcessResult& r) {
  return r.term_signal != 0 ? absl::StrCat("killed by signal ", r.term_signal)
                            : absl::StrCat("exit ", r.exit_code);
}

bool OutOfMemory(const util::ProcessResult& r) {
  // git: "fatal: Out of memory, malloc failed"; Go: "fatal error: runtime: out of memory".
  return absl::StrContains(absl::AsciiStrToLower(r.err), "out of memory");
}

// A child that could not run, or hit a bound every step shares (time,
// file size, memory), as the step's error; OK otherwise (it may still have
// failed: each step words that itself).
absl::Status BoundsOf(absl::string_view step, absl::string_view what,
                      const absl::StatusOr<util::ProcessResult>& r, absl::string_view timeout_name,
                      absl::Duration timeout, const RenderOptions& o) {
  if (!r.ok()) {
    switch (r.status().code()) {
      case absl::StatusCode::kDeadlineExceeded:
        return Step(absl::StatusCode::kDeadlineExceeded, step,
                    absl::StrCat(what, " did not finish within ", absl::FormatDuration(timeout),
                                 " (", timeout_name, ")"));
      case absl::StatusCode::kNotFound:
        return Step(absl::StatusCode::kFailedPrecondition, step, r.status().message());
      default:
        return Step(r.status().code(), step, r.status().message());
    }
  }
  if (r->term_signal == SIGXFSZ)
    return Step(absl::StatusCode::kResourceExhausted, "size",
                absl::StrCat(what, " wrote a file larger than max_repo_bytes (", o.max_repo_bytes,
                             " bytes)"));
  if (r->exit_code != 0 && OutOfMemory(*r))
    return Step(
        absl::StatusCode::kResourceExhausted, step,
        absl::StrCat(what, " ran out of memory (max_memory_bytes ", o.max_memory_bytes, " bytes)"));
  return absl::OkStatus();
}

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// The environment every child starts from, built from nothing.
std::vector<std::string> BaseEnv(const std::string& scratch) {
  const std::string path = Getenv("PATH");
  std::vector<std::string> env = {
      absl::StrCat("PATH=", path.empty() ? kDefaultPath : path),
      absl::StrCat("HOME=", scratch, "/home"),
      absl::StrCat("TMPDIR=", scratch, "/tmp"),
      absl::StrCat("XDG_CONFIG_HOME=", scratch, "/home/.config"),
      absl::StrCat("XDG_CACHE_HOME=", scratch, "/home/.cache"),
      absl::StrCat("XDG_DATA_HOME=", scratch, "/home/.local/share"),
      "LC_ALL=C",  // messages as the code matches them
  };
  for (const char* name : kPassedOn)
    if (const char* v = std::getenv(name)) env.push_back(absl::StrCat(name, "=", v));
  return env;
}

// "https://host[:port]" of an http(s) URL, without userinfo: what the
// credential helper is scoped to, so that a redirect elsewhere gets no token.
std::string Origin(absl::string_view url) {
  for (absl::string_view scheme : {"https://", "http://"}) {
    absl::string_view rest = url;
    if (!absl::ConsumePrefix(&rest, scheme)) continue;
    absl::string_view host = rest.substr(0, rest.find_first_of("/?#"));
    if (size_t at = host.rfind('@'); at != absl::string_view::npos) host.remove_prefix(at + 1);
    return absl::StrCat(scheme, host);
  }
  return "";
}

// The URL git fetches: ssh's forms as https (see ChartSource::url).
absl::StatusOr<std::string> FetchUrl(const ChartSource& s, const RenderOptions& o) {
  if (absl::StartsWith(s.url, "file://")) {
    if (!o.allow_file_protocol)
      return Step(absl::StatusCode::kInvalidArgument, "clone",
                  absl::StrCat("repository URL \"", s.url, "\": file:// is not allowed"));
    return s.url;
  }
  if (std::string problem = v1alpha1::RepositoryUrlProblem(s.url); !problem.empty())
    return Step(absl::StatusCode::kInvalidArgument, "clone",
                absl::StrCat("repository URL \"", s.url, "\" ", problem));
  absl::string_view rest = s.url;
  if (absl::ConsumePrefix(&rest, "ssh://")) {
    const size_t slash = rest.find('/');
    absl::string_view host = rest.substr(0, slash);
    if (size_t at = host.rfind('@'); at != absl::string_view::npos) host.remove_prefix(at + 1);
    if (size_t colon = host.rfind(':'); colon != absl::string_view::npos && host.back() != ']')
      host = host.substr(0, colon);
    return absl::StrCat("https://", host,
                        slash == absl::string_view::npos ? "/" : rest.substr(slash));
  }
  if (absl::ConsumePrefix(&rest, "git@")) {
    const size_t colon = rest.find(':');  // RepositoryUrlProblem saw one before any '/'
    absl::string_view path = rest.substr(colon + 1);
    absl::ConsumePrefix(&path, "/");
    return absl::StrCat("https://", rest.substr(0, colon), "/", path);
  }
  return s.url;
}

// chart_path as a relative path ("" for the root), or why not.
absl::StatusOr<std::string> ChartDir(absl::string_view path) {
  auto refuse = [&](absl::string_view why) {
    return Step(absl::StatusCode::kInvalidArgument, "chart",
                absl::StrCat("chart_path \"", path, "\" ", why));
  };
  if (absl::StartsWith(path, "/")) return refuse("must be relative to the repository");
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (p == "..") return refuse("must not contain \"..\"");
    if (p == ".") continue;
    for (char c : p)
      if (absl::ascii_iscntrl(c)) return refuse("contains a control character");
    parts.emplace_back(p);
  }
  return absl::StrJoin(parts, "/");
}

bool Within(const fs::path& root, const fs::path& p) {
  auto r = root.begin(), i = p.begin();
  for (; r != root.end(); ++r, ++i)
    if (i == p.end() || *i != *r) return false;
  return true;
}

// Every symlink helm would follow from dir (it follows links to files and
// directories) must end inside root: a link to /var/run/secrets or /proc
// would put the operator's files into the tenant's manifests.
absl::Status CheckLinks(const fs::path& root, const fs::path& dir, std::set<fs::path>& seen,
                        const std::string& checkout) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (!it->is_symlink(ec)) continue;
    const fs::path target = fs::weakly_canonical(it->path(), ec);
    if (ec) break;
    if (!Within(root, target))
      return Step(absl::StatusCode::kInvalidArgument, "chart",
                  absl::StrCat("the symlink ", it->path().lexically_relative(checkout).string(),
                               " leads outside the repository"));
    if (fs::is_directory(target, ec) && seen.insert(target).second)
      if (absl::Status s = CheckLinks(root, target, seen, checkout); !s.ok()) return s;
  }
  // A link that cannot be followed (a loop: ELOOP) is the chart's doing, not
  // a fault that passes: InvalidArgument, not retried.
  if (ec)
    return Step(absl::StatusCode::kInvalidArgument, "chart",
                absl::StrCat("reading ", fs::path(dir).lexically_relative(checkout).string(), ": ",
                             ec.message()));
  return absl::OkStatus();
}

// The bytes under dir (files, symlinks' own length; not following links),
// counting stopped once past limit.
absl::StatusOr<uint64_t> DiskUse(const fs::path& dir, uint64_t limit) {
  uint64_t total = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end && total <= limit; it.increment(ec)) {
    const fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_regular_file(st)) total += it->file_size(ec);
    if (fs::is_symlink(st)) total += fs::read_symlink(it->path(), ec).native().size();
    if (ec) break;
  }
  if (ec)
    return Step(absl::StatusCode::kInternal, "size",
                absl::StrCat("reading ", dir.string(), ": ", ec.message()));
  return total;
}

absl::Status TooLarge(uint64_t bytes, absl::string_view what, const RenderOptions& o) {
  return Step(absl::StatusCode::kResourceExhausted, "size",
              absl::StrCat(what, " holds more than max_repo_bytes (", o.max_repo_bytes,
                           " bytes; at least ", bytes, ")"));
}

// Removes the render's directory whichever way RenderChart returns.
struct Scratch {
  std::string dir;
  ~Scratch() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};

class Renderer {
 public:
  Renderer(const ChartSource& s, const RenderOptions& o) : s_(s), o_(o) {}

  absl::StatusOr<RenderResult> Run() {
    if (absl::Status st = Validate(); !st.ok()) return st;
    if (absl::Status st = MakeScratch(); !st.ok()) return st;
    RenderResult result;
    if (absl::Status st = Clone(result.commit); !st.ok()) return st;
    if (o_.compose) {
      absl::StatusOr<std::string> out = Compose(result.commit);
      if (!out.ok()) return out.status();
      result.manifests = std::move(*out);
      return result;
    }
    absl::StatusOr<std::string> chart = Chart(result.commit);
    if (!chart.ok()) return chart.status();
    absl::StatusOr<std::string> out = Template(*chart);
    if (!out.ok()) return out.status();
    result.manifests = std::move(*out);
    return result;
  }

 private:
  absl::Status Validate() {
    for (auto [field, value] :
         {std::pair<absl::string_view, absl::string_view>{"release", o_.release},
          {"namespace", o_.ns}})
      if (value.empty() || value[0] == '-')
        return Step(absl::StatusCode::kInvalidArgument, "render",
                    absl::StrCat("the ", field, " \"", value, "\" is not a name"));
    if (s_.token.find_first_of(std::string("\n\r\0", 3)) != std::string::npos)
      return Step(absl::StatusCode::kInvalidArgument, "clone",
                  "the git token contains a line break");
    if (!s_.commit.empty()) {
      bool hex = s_.commit.size() >= 7 && s_.commit.size() <= 40;
      for (char c : s_.commit) hex = hex && absl::ascii_isxdigit(c);
      if (!hex)
        return Step(absl::StatusCode::kInvalidArgument, "clone",
                    absl::StrCat("commit \"", s_.commit, "\" must be 7 to 40 hex digits"));
      commit_ = absl::AsciiStrToLower(s_.commit);
    } else if (!s_.branch.empty() && !v1alpha1::ValidBranch(s_.branch)) {
      return Step(absl::StatusCode::kInvalidArgument, "clone",
                  absl::StrCat("branch \"", s_.branch, "\" is not a valid git branch name"));
    }
    absl::StatusOr<std::string> url = FetchUrl(s_, o_);
    if (!url.ok()) return url.status();
    url_ = *url;
    absl::StatusOr<std::string> chart = ChartDir(s_.chart_path);
    if (!chart.ok()) return chart.status();
    chart_ = *chart;
    if (absl::Status st = Program("clone", o_.git, git_); !st.ok()) return st;
    if (o_.compose) return absl::OkStatus();  // converted here, no helm
    return Program("render", o_.helm, helm_);
  }

  static absl::Status Program(absl::string_view step, const std::string& command,
                              std::string& path) {
    path = util::FindProgram(command, Getenv("PATH"));
    if (path.empty())
      return Step(absl::StatusCode::kFailedPrecondition, step,
                  absl::StrCat("\"", command, "\" not found in $PATH"));
    if (access(path.c_str(), X_OK) != 0)
      return Step(absl::StatusCode::kFailedPrecondition, step,
                  absl::StrCat("\"", command, "\" is not an executable file"));
    return absl::OkStatus();
  }

  absl::Status MakeScratch() {
    std::string base = o_.work_dir;
    if (base.empty()) base = Getenv("TMPDIR");
    if (base.empty()) base = "/tmp";
    std::string tmpl = absl::StrCat(base, "/chart-render.XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr)
      return Step(absl::StatusCode::kFailedPrecondition, "clone",
                  absl::StrCat("cannot make a directory in ", base, ": ", strerror(errno)));
    scratch_.dir = tmpl;
    repo_ = tmpl + "/repo";
    std::error_code ec;
    for (const char* sub : {"/home", "/tmp"}) fs::create_directory(tmpl + sub, ec);
    if (ec)
      return Step(absl::StatusCode::kFailedPrecondition, "clone",
                  absl::StrCat("cannot make directories in ", tmpl, ": ", ec.message()));
    return absl::OkStatus();
  }

  std::vector<std::pair<int, uint64_t>> Limits() const {
    return {{RLIMIT_DATA, o_.max_memory_bytes},
            {RLIMIT_FSIZE, o_.max_repo_bytes},
            {RLIMIT_CORE, 0}};  // SIGXFSZ would dump core
  }

  std::vector<std::string> GitEnv() const {
    std::vector<std::string> env = BaseEnv(scratch_.dir);
    for (const char* v : {"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
                          "GIT_TERMINAL_PROMPT=0", "GIT_LFS_SKIP_SMUDGE=1"})
      env.emplace_back(v);
    // Configuration through the environment (git 2.31+), as git-clone does:
    // nothing a tenant controls is read from a file, and no secret is written.
    std::vector<std::pair<std::string, std::string>> config = {
        {"protocol.allow", "never"},  // ext::, fd::, ssh, file: none of them
        {"protocol.https.allow", "always"},
        {"protocol.http.allow", "always"},
        {"protocol.git.allow", "always"},
        {"core.hooksPath", "/dev/null"},
        {"core.fsmonitor", "false"},
        {"init.templateDir", ""},
        {"submodule.recurse", "false"},
        {"fetch.recurseSubmodules", "false"},
        // One pack file, which RLIMIT_FSIZE bounds, never many loose objects.
        {"transfer.unpackLimit", "1"},
        {"gc.auto", "0"},
        {"maintenance.auto", "false"},
        {"http.followRedirects", "initial"},
        {"advice.detachedHead", "false"},
    };
    if (o_.allow_file_protocol) config.emplace_back("protocol.file.allow", "always");
    if (!s_.token.empty() && !Origin(url_).empty()) {
      config.emplace_back(absl::StrCat("credential.", Origin(url_), ".helper"), kCredentialHelper);
      env.push_back(absl::StrCat(kTokenEnv, "=", s_.token));
    }
    env.push_back(absl::StrCat("GIT_CONFIG_COUNT=", config.size()));
    for (size_t i = 0; i < config.size(); ++i) {
      env.push_back(absl::StrCat("GIT_CONFIG_KEY_", i, "=", config[i].first));
      env.push_back(absl::StrCat("GIT_CONFIG_VALUE_", i, "=", config[i].second));
    }
    return env;
  }

  absl::StatusOr<util::ProcessResult> Git(std::vector<std::string> args,
                                          size_t max_stdout = 1 << 20) {
    const absl::Duration left = deadline_ - absl::Now();
    if (left <= absl::ZeroDuration())
      return absl::DeadlineExceededError("clone_timeout spent");  // worded by BoundsOf
    args.insert(args.begin(), {"git", "-C", repo_});
    return util::RunProcess({.path = git_,
                             .argv = std::move(args),
                             .env = git_env_,
                             .timeout = left,
                             .max_stdout = max_stdout,
                             .max_stderr = kStderrKept,
                             .rlimits = Limits()});
  }

  // BoundsOf for git. git fetch survives its index-pack, which writes the
  // pack: when RLIMIT_FSIZE ends that, fetch says "invalid index-pack
  // output"; the pack it left at the bound tells why.
  absl::Status GitBounds(absl::string_view step, absl::string_view what,
                         const absl::StatusOr<util::ProcessResult>& r) {
    if (absl::Status b = BoundsOf(step, what, r, "clone_timeout", o_.clone_timeout, o_); !b.ok())
      return b;
    if (r->exit_code == 0) return absl::OkStatus();
    std::error_code ec;
    fs::recursive_directory_iterator it(repo_ + "/.git", ec), end;
    for (; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec) && it->file_size(ec) >= o_.max_repo_bytes && !ec)
        return Step(absl::StatusCode::kResourceExhausted, "size",
                    absl::StrCat(what, " wrote a file larger than max_repo_bytes (",
                                 o_.max_repo_bytes, " bytes)"));
    return absl::OkStatus();
  }

  // A git step that must succeed: its failure as an error of `step`.
  absl::StatusOr<util::ProcessResult> MustGit(absl::string_view step, absl::string_view what,
                                              std::vector<std::string> args, absl::StatusCode code,
                                              size_t max_stdout = 1 << 20) {
    auto r = Git(std::move(args), max_stdout);
    if (absl::Status b = GitBounds(step, what, r); !b.ok()) return b;
    if (r->exit_code != 0)
      return Step(code, step, absl::StrCat(what, " failed (", HowItEnded(*r), "): ", Tail(*r)));
    return r;
  }

  std::string Where() const {
    return absl::StrCat(s_.url, " at ",
                        !commit_.empty()     ? commit_
                        : !s_.branch.empty() ? absl::StrCat("branch ", s_.branch)
                                             : std::string("its default branch"));
  }

  // git init, a shallow fetch of the commit (else the branch, else HEAD), the
  // size of what it would check out, the checkout; commit = the sha.
  absl::Status Clone(std::string& commit) {
    deadline_ = absl::Now() + o_.clone_timeout;
    git_env_ = GitEnv();
    std::error_code ec;
    fs::create_directory(repo_, ec);  // for git -C
    if (auto r = MustGit("clone", "git init", {"init", "-q"}, absl::StatusCode::kInternal); !r.ok())
      return r.status();
    const std::string fetch = absl::StrCat("git fetch of ", Where());
    std::string ref;
    if (!commit_.empty()) {
      // A full sha alone (GitHub and GitLab serve it); a short one, or a
      // server that refuses it, needs the branches and tags.
      bool fetched = false;
      if (commit_.size() == 40) {
        auto r = Git({"fetch", "-q", "--no-tags", "--depth", "1", "--", url_, commit_});
        if (absl::Status b = GitBounds("clone", fetch, r); !b.ok()) return b;
        fetched = r->exit_code == 0;
      }
      if (!fetched) {
        auto r =
            MustGit("clone", fetch,
                    {"fetch", "-q", "--tags", "--", url_, "+refs/heads/*:refs/remotes/origin/*"},
                    absl::StatusCode::kUnavailable);
        if (!r.ok()) return r.status();
      }
      ref = commit_;
    } else if (!s_.branch.empty()) {
      auto r = Git({"fetch", "-q", "--no-tags", "--depth", "1", "--", url_,
                    absl::StrCat("+refs/heads/", s_.branch, ":refs/remotes/origin/", s_.branch)});
      if (absl::Status b = GitBounds("clone", fetch, r); !b.ok()) return b;
      if (r->exit_code != 0 && absl::StrContains(r->err, "couldn't find remote ref"))
        return Step(absl::StatusCode::kNotFound, "clone",
                    absl::StrCat("branch ", s_.branch, " not found in ", s_.url));
      if (r->exit_code != 0)
        return Step(absl::StatusCode::kUnavailable, "clone",
                    absl::StrCat(fetch, " failed (", HowItEnded(*r), "): ", Tail(*r)));
      ref = absl::StrCat("refs/remotes/origin/", s_.branch);
    } else {
      auto r =
          MustGit("clone", fetch, {"fetch", "-q", "--no-tags", "--depth", "1", "--", url_, "HEAD"},
                  absl::StatusCode::kUnavailable);
      if (!r.ok()) return r.status();
      ref = "FETCH_HEAD";
    }
    {
      auto r = Git({"rev-parse", "-q", "--verify", absl::StrCat(ref, "^{commit}")});
      if (absl::Status b = GitBounds("checkout", "git rev-parse", r); !b.ok()) return b;
      if (r->exit_code != 0)
        return Step(
            absl::StatusCode::kNotFound, "checkout",
            absl::StrCat("commit ", commit_.empty() ? ref : commit_, " not found in ", s_.url));
      commit = std::string(absl::StripAsciiWhitespace(r->out));
    }
    // The size before the checkout: what is written is the sum of the
    // files' sizes (a small pack may hold a blob of zeros that inflates a
    // thousand times, or one blob at a thousand paths).
    {
      auto r = Git({"ls-tree", "-r", "--format=%(objectsize)", commit}, kTreeListingMax);
      if (!r.ok() && r.status().code() == absl::StatusCode::kResourceExhausted)
        return Step(absl::StatusCode::kResourceExhausted, "size",
                    absl::StrCat(s_.url, " at ", commit, " holds too many files"));
      if (absl::Status b = GitBounds("size", "git ls-tree", r); !b.ok()) return b;
      if (r->exit_code != 0)
        return Step(absl::StatusCode::kInternal, "size",
                    absl::StrCat("git ls-tree failed (", HowItEnded(*r), "): ", Tail(*r)));
      absl::StatusOr<uint64_t> pack = DiskUse(repo_, o_.max_repo_bytes);
      if (!pack.ok()) return pack.status();
      uint64_t total = *pack;
      for (absl::string_view line : absl::StrSplit(r->out, '\n', absl::SkipEmpty())) {
        uint64_t n = 0;
        if (absl::SimpleAtoi(line, &n)) total += n;  // "-": a submodule, not checked out
      }
      if (total > o_.max_repo_bytes)
        return TooLarge(total, absl::StrCat(s_.url, " at ", commit), o_);
    }
    if (auto r = MustGit("checkout", absl::StrCat("git checkout of ", commit),
                         {"checkout", "-q", "-f", "--detach", "--no-recurse-submodules", commit},
                         absl::StatusCode::kInvalidArgument);
        !r.ok())
      return r.status();
    // And after it, as it is on disk (.gitattributes may convert line ends).
    absl::StatusOr<uint64_t> used = DiskUse(repo_, o_.max_repo_bytes);
    if (!used.ok()) return used.status();
    if (*used > o_.max_repo_bytes)
      return TooLarge(*used, absl::StrCat("the checkout of ", s_.url, " at ", commit), o_);
    return absl::OkStatus();
  }

  // The checkout's real path: what every path of the tenant's must stay in.
  absl::StatusOr<fs::path> Checkout(absl::string_view step) {
    std::error_code ec;
    fs::path root = fs::canonical(repo_, ec);
    if (ec)
      return Step(absl::StatusCode::kInternal, step,
                  absl::StrCat("reading ", repo_, ": ", ec.message()));
    return root;
  }

  // The chart's directory, checked: inside the checkout, links too, with a Chart.yaml.
  absl::StatusOr<std::string> Chart(const std::string& commit) {
    absl::StatusOr<fs::path> checkout = Checkout("chart");
    if (!checkout.ok()) return checkout.status();
    const fs::path& root = *checkout;
    std::error_code ec;
    const std::string name = chart_.empty() ? "." : chart_;
    const std::string where = absl::StrCat(s_.url, " at ", commit);
    const fs::path dir = fs::weakly_canonical(root / chart_, ec);
    if (ec || !Within(root, dir))
      return Step(absl::StatusCode::kInvalidArgument, "chart",
                  absl::StrCat("chart_path \"", name, "\" leads outside the repository"));
    if (!fs::is_directory(dir, ec))
      return Step(absl::StatusCode::kInvalidArgument, "chart",
                  absl::StrCat("chart_path \"", name, "\" is not a directory in ", where));
    std::set<fs::path> seen = {dir};
    if (absl::Status s = CheckLinks(root, dir, seen, repo_); !s.ok()) return s;
    if (!fs::is_regular_file(dir / "Chart.yaml", ec))
      return Step(absl::StatusCode::kInvalidArgument, "chart",
                  absl::StrCat("no Chart.yaml in \"", name, "\" of ", where));
    return dir.string();
  }

  // Compose mode: the compose file at chart_path (or the first of the
  // usual names in that directory), inside the checkout, converted.
  absl::StatusOr<std::string> Compose(const std::string& commit) {
    absl::StatusOr<fs::path> checkout = Checkout("compose");
    if (!checkout.ok()) return checkout.status();
    const fs::path& root = *checkout;
    std::error_code ec;
    const std::string name = chart_.empty() ? "." : chart_;
    const std::string where = absl::StrCat(s_.url, " at ", commit);
    fs::path file = fs::weakly_canonical(root / chart_, ec);
    if (!ec && fs::is_directory(file, ec)) {
      fs::path found;
      for (const char* n :
           {"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"})
        if (fs::exists(fs::symlink_status(file / n, ec))) {
          found = fs::weakly_canonical(file / n, ec);
          break;
        }
      if (found.empty())
        return Step(absl::StatusCode::kInvalidArgument, "compose",
                    absl::StrCat("no compose.yaml, compose.yml, docker-compose.yaml or "
                                 "docker-compose.yml in \"",
                                 name, "\" of ", where));
      file = found;
    }
    if (ec || !Within(root, file))
      return Step(absl::StatusCode::kInvalidArgument, "compose",
                  absl::StrCat("path \"", name, "\" leads outside the repository"));
    if (!fs::is_regular_file(file, ec))
      return Step(absl::StatusCode::kInvalidArgument, "compose",
                  absl::StrCat("\"", name, "\" is not a compose file in ", where));
    const uintmax_t size = fs::file_size(file, ec);
    if (ec || size > o_.max_compose_bytes)
      return Step(absl::StatusCode::kResourceExhausted, "compose",
                  absl::StrCat("the compose file is larger than ", o_.max_compose_bytes, " bytes"));
    std::ifstream in(file, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string source = fs::relative(file, root, ec).string();
    absl::StatusOr<std::string> out = ConvertCompose({.yaml = text,
                                                      .source = source,
                                                      .built_images = o_.images,
                                                      .default_cpu_limit = o_.compose_cpu_limit,
                                                      .pull_secret = o_.compose_pull_secret});
    if (!out.ok())
      return Step(out.status().code(), "compose",
                  absl::StrCat(source, ": ", out.status().message()));
    return out;
  }

  absl::StatusOr<std::string> Template(const std::string& chart) {
    const std::string values = scratch_.dir + "/values.yaml";
    {
      std::ofstream f(values, std::ios::binary | std::ios::trunc);
      f << o_.values_yaml;
      if (!f.good())
        return Step(absl::StatusCode::kInternal, "render", absl::StrCat("cannot write ", values));
    }
    std::vector<std::string> env = BaseEnv(scratch_.dir);
    const std::string home = scratch_.dir + "/home";
    for (auto [name, dir] : {std::pair<const char*, const char*>{"HELM_CACHE_HOME", "/.cache/helm"},
                             {"HELM_CONFIG_HOME", "/.config/helm"},
                             {"HELM_DATA_HOME", "/.local/share/helm"}})
      env.push_back(absl::StrCat(name, "=", home, dir));
    // --skip-schema-validation: helm loads the $refs of a chart's
    // values.schema.json, http(s):// and file:// alike — a request from the
    // operator's pod to any address, or a read of its files.
    std::vector<std::string> argv = {
        "helm", "template", o_.release, chart,          "--namespace",
        o_.ns,  "-f",       values,     "--skip-tests", "--skip-schema-validation"};
    if (!o_.kube_version.empty()) argv.insert(argv.end(), {"--kube-version", o_.kube_version});
    auto r = util::RunProcess({.path = helm_,
                               .argv = std::move(argv),
                               .env = std::move(env),
                               .timeout = o_.render_timeout,
                               .max_stdout = o_.max_output_bytes,
                               .max_stderr = kStderrKept,
                               .rlimits = Limits()});
    if (!r.ok() && r.status().code() == absl::StatusCode::kResourceExhausted)
      return Step(absl::StatusCode::kResourceExhausted, "render",
                  absl::StrCat("helm template printed more than max_output_bytes (",
                               o_.max_output_bytes, " bytes)"));
    if (absl::Status b =
            BoundsOf("render", "helm template", r, "render_timeout", o_.render_timeout, o_);
        !b.ok())
      return b;
    if (r->exit_code != 0)
      return Step(absl::StatusCode::kInvalidArgument, "render",
                  absl::StrCat("helm template failed (", HowItEnded(*r), "): ", Tail(*r)));
    return std::move(r->out);
  }

  const ChartSource& s_;
  const RenderOptions& o_;
  std::string commit_, url_, chart_, git_, helm_, repo_;
  std::vector<std::string> git_env_;
  absl::Time deadline_;
  Scratch scratch_;
};

// The token, and whatever else looks like a credential, out of a message.
absl::Status Redacted(const absl::Status& s, const std::string& token) {
  std::string message =
      Redactor(token.empty() ? std::vector<std::string>{} : std::vector<std::string>{token})
          .Redact(s.message());
  // Redactor skips values too short to be worth it; a token is one anyway.
  if (!token.empty()) absl::StrReplaceAll({{token, std::string(kRedacted)}}, &message);
  return absl::Status(s.code(), message);
}

}  // namespace

absl::StatusOr<RenderResult> RenderChart(const ChartSource& source, const RenderOptions& options) {
  absl::StatusOr<RenderResult> r = Renderer(source, options).Run();
  if (!r.ok()) return Redacted(r.status(), source.token);
  return r;
}

}  // namespace controllers

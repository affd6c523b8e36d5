// RenderChart (controllers/environment/chart_render.h) with the real git and
// helm against a repository in a temporary directory (file://, which only
// RenderOptions::allow_file_protocol admits). helm is looked up in $PATH,
// then where scripts/fetch-kubectl-helm.sh puts it; without it the tests fail.
#include "controllers/environment/chart_render.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/shell.h"
#include "util/subprocess.h"

namespace controllers {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// Long enough for the Redactor's known values (a real one is ~40 characters).
constexpr char kToken[] = "ghs_TestToken0123456789abcdefABCDEF0123";

using testing_support::Shell;

std::string Read(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void Write(const std::string& path, const std::string& text, bool executable = false) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::trunc) << text;
  if (executable) fs::permissions(path, fs::perms::owner_all);
}

// Variables of the test's own environment, as they were again at the end.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::vector<std::pair<std::string, std::string>> vars) {
    for (auto& [name, value] : vars) {
      const char* old = std::getenv(name.c_str());
      saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
      setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    for (const auto& [name, old] : saved_) {
      if (old)
        setenv(name.c_str(), old->c_str(), 1);
      else
        unsetenv(name.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

constexpr char kNoHelm[] =
    "helm is neither in $PATH nor in ~/.cache/kube-operator/bin ($KUBE_OPERATOR_CACHE/bin): "
    "run scripts/fetch-kubectl-helm.sh";

// helm: $PATH (scripts/test.sh puts the tools' cache there), else the cache
// itself (scripts/lib.sh's TOOLS_BIN), for a developer running the binary.
std::string Helm() {
  const char* path = std::getenv("PATH");
  std::string helm = util::FindProgram("helm", path ? path : "");
  if (!helm.empty()) return helm;
  const char* cache = std::getenv("KUBE_OPERATOR_CACHE");
  const char* home = std::getenv("HOME");
  const std::string cached = cache
                                 ? absl::StrCat(cache, "/bin/helm")
                                 : absl::StrCat(home ? home : "", "/.cache/kube-operator/bin/helm");
  return access(cached.c_str(), X_OK) == 0 ? cached : "";
}

constexpr char kChartYaml[] = "apiVersion: v2\nname: app\nversion: 0.1.0\n";
constexpr char kDeployment[] = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: {{ .Values.image }}
)";
constexpr char kConfigMap[] = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  namespace: {{ .Release.Namespace }}
data:
  greeting: {{ .Values.greeting | quote }}
)";

class ChartRenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    helm_ = Helm();
    ASSERT_FALSE(helm_.empty()) << kNoHelm;
    char tmpl[] = "/tmp/chart-render-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/work");
    std::string out;
    ASSERT_EQ(Shell(absl::StrCat("set -e; cd ", dir_, "; ", kGit, " init -q --bare repo.git; ",
                                 kGit, " init -q src"),
                    &out),
              0)
        << out;
    url_ = absl::StrCat("file://", dir_, "/repo.git");
    Write(Src("deploy/chart/Chart.yaml"), kChartYaml);
    Write(Src("deploy/chart/values.yaml"), "replicas: 1\nimage: nginx\ngreeting: default\n");
    Write(Src("deploy/chart/templates/deployment.yaml"), kDeployment);
    Write(Src("deploy/chart/templates/configmap.yaml"), kConfigMap);
    first_ = Commit("a chart");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Src(const std::string& rel) { return absl::StrCat(dir_, "/src/", rel); }
  // Commits everything in src, pushes it to the bare repository's main; the sha.
  std::string Commit(const std::string& message) {
    std::string out;
    EXPECT_EQ(Shell(absl::StrCat("set -e; cd ", dir_, "/src; ", kGit, " add -A; ", kGit,
                                 " commit -qm '", message, "'; ", kGit,
                                 " push -q ../repo.git HEAD:main; ", kGit, " rev-parse HEAD"),
                    &out),
              0)
        << out;
    return std::string(absl::StripAsciiWhitespace(out));
  }
  ChartSource Source(const std::string& commit = "") {
    return {.url = url_, .branch = "main", .commit = commit, .chart_path = "deploy/chart"};
  }
  RenderOptions Options() {
    return {.release = "preview",
            .ns = "env-ns",
            .values_yaml = "replicas: 3\ngreeting: hello from values\n",
            .helm = helm_,
            .work_dir = dir_ + "/work",
            .allow_file_protocol = true};
  }
  // A git that records its argv and environment (one line each, per run)
  // into dir_/git.log, then runs `extra` and the real git.
  std::string GitWrapper(const std::string& extra = "") {
    const std::string path = dir_ + "/git-wrapper";
    Write(path,
          absl::StrCat("#!/bin/sh\n{ echo \"argv: $*\"; env | sed 's/^/env: /'; } >> ", dir_,
                       "/git.log\n", extra, "\nexec git \"$@\"\n"),
          true);
    return path;
  }
  bool WorkIsEmpty() { return fs::is_empty(dir_ + "/work"); }

  static constexpr char kGit[] =
      "git -c user.email=t@t -c user.name=t -c init.defaultBranch=main -c "
      "protocol.file.allow=always";
  std::string helm_, dir_, url_, first_;
};

TEST_F(ChartRenderTest, TheChartIsRenderedWithTheValuesInTheNamespaceAtTheCommit) {
  auto r = RenderChart(Source(first_), Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->commit, first_);
  EXPECT_THAT(r->manifests, HasSubstr("kind: Deployment"));
  EXPECT_THAT(r->manifests, HasSubstr("name: preview-web"));
  EXPECT_THAT(r->manifests, HasSubstr("replicas: 3"));
  EXPECT_THAT(r->manifests, HasSubstr("image: nginx")) << "the chart's own default";
  EXPECT_THAT(r->manifests, HasSubstr("kind: ConfigMap"));
  EXPECT_THAT(r->manifests, HasSubstr("greeting: \"hello from values\""));
  EXPECT_THAT(r->manifests, HasSubstr("namespace: env-ns"));
  EXPECT_TRUE(WorkIsEmpty()) << "the scratch directory is removed";

  // By branch (no commit): the branch's tip, and its sha.
  auto b = RenderChart(Source(), Options());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->commit, first_);
  // Values as JSON text, and a short sha.
  RenderOptions json = Options();
  json.values_yaml = R"({"replicas": 5, "greeting": "json"})";
  ChartSource short_sha = Source(first_.substr(0, 8));
  auto j = RenderChart(short_sha, json);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->commit, first_);
  EXPECT_THAT(j->manifests, HasSubstr("replicas: 5"));
}

TEST_F(ChartRenderTest, AChartAtTheRootOfTheRepository) {
  Write(Src("Chart.yaml"), kChartYaml);
  Write(Src("templates/configmap.yaml"), kConfigMap);
  Commit("a chart at the root");
  for (const std::string path : {"", ".", "./"}) {
    ChartSource s = Source();
    s.chart_path = path;
    auto r = RenderChart(s, Options());
    ASSERT_TRUE(r.ok()) << "\"" << path << "\": " << r.status();
    EXPECT_THAT(r->manifests, HasSubstr("greeting: \"hello from values\""));
    EXPECT_THAT(r->manifests, Not(HasSubstr("kind: Deployment"))) << "not deploy/chart";
  }
}

TEST_F(ChartRenderTest, AnOlderCommitRendersItsOwnContent) {
  Write(Src("deploy/chart/templates/configmap.yaml"),
        absl::StrCat(kConfigMap, "  version: \"two\"\n"));
  const std::string second = Commit("two");
  auto old = RenderChart(Source(first_), Options());
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->commit, first_);
  EXPECT_THAT(old->manifests, Not(HasSubstr("version: \"two\"")));
  auto now = RenderChart(Source(), Options());
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->commit, second);
  EXPECT_THAT(now->manifests, HasSubstr("version: \"two\""));
}

TEST_F(ChartRenderTest, AChartPathOutsideTheCheckoutIsRefused) {
  fs::create_symlink("/etc", Src("etc"));
  fs::create_symlink("../..", Src("deploy/up"));
  Commit("links out");
  for (const std::string path : {"../x", "deploy/../../x", "/etc", "etc", "deploy/up"}) {
    ChartSource s = Source();
    s.chart_path = path;
    auto r = RenderChart(s, Options());
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("chart: chart_path \"", path, "\"")));
  }
  EXPECT_TRUE(WorkIsEmpty());
}

// helm follows symlinks: one to the operator's files would publish them.
TEST_F(ChartRenderTest, ASymlinkInTheChartToOutsideTheCheckoutIsRefused) {
  fs::create_directories(Src("deploy/chart/files"));
  fs::create_directories(Src("shared"));
  fs::create_symlink("/etc/passwd", Src("deploy/chart/files/passwd"));
  Write(Src("deploy/chart/templates/leak.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata:\n"
        "  p: {{ .Files.Get \"files/passwd\" | quote }}\n");
  Commit("a leak");
  auto r = RenderChart(Source(), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "chart: the symlink deploy/chart/files/passwd leads outside the repository");

  // Also through a link to a directory of the repository.
  fs::remove(Src("deploy/chart/files/passwd"));
  fs::remove(Src("deploy/chart/templates/leak.yaml"));
  fs::create_symlink("/etc/hostname", Src("shared/hostname"));
  fs::create_symlink("../../shared", Src("deploy/chart/shared"));
  Commit("a leak through a directory");
  r = RenderChart(Source(), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("the symlink shared/hostname leads outside"));

  // A link that stays inside is fine.
  fs::remove(Src("shared/hostname"));
  Write(Src("shared/note.txt"), "inside");
  Commit("inside");
  r = RenderChart(Source(), Options());
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(ChartRenderTest, ADirectoryWithoutChartYamlIsRefused) {
  ChartSource s = Source();
  s.chart_path = "deploy";
  auto r = RenderChart(s, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            absl::StrCat("chart: no Chart.yaml in \"deploy\" of ", url_, " at ", first_));
  s.chart_path = "nowhere";
  r = RenderChart(s, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("chart_path \"nowhere\" is not a directory"));
}

// Compose mode (docs/contract.md, "Project"): the compose file of the path (a
// file, or the usual names in a directory) converted instead of rendered.
TEST_F(ChartRenderTest, AComposeFileIsFoundInsideTheCheckoutAndConverted) {
  constexpr char kPinned[] =
      "registry.example/p/"
      "web-pr-1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  Write(Src("app/docker-compose.yml"),
        "services:\n  web:\n    build: .\n    ports: ['8080:3000']\n"
        "  db:\n    image: postgres:16-alpine\n    expose: ['5432']\n");
  Write(Src("app/compose.yaml"), "services:\n  only:\n    image: busybox\n");
  const std::string sha = Commit("compose files");
  RenderOptions o = Options();
  o.compose = true;
  o.images = {{"web", kPinned}};
  ChartSource s = Source();
  s.chart_path = "app/docker-compose.yml";
  auto r = RenderChart(s, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->commit, sha);
  EXPECT_THAT(r->manifests, HasSubstr(absl::StrCat("\"image\":\"", kPinned, "\"")));
  EXPECT_THAT(r->manifests, HasSubstr("postgres:16-alpine"));
  EXPECT_TRUE(WorkIsEmpty());
  // A directory: compose.yaml comes first of the usual names.
  s.chart_path = "app";
  r = RenderChart(s, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->manifests, HasSubstr("busybox"));
  EXPECT_THAT(r->manifests, Not(HasSubstr("postgres")));
  // None there: named; helm is not needed for any of it.
  s.chart_path = "deploy";
  o.helm = "/nonexistent/helm";
  r = RenderChart(s, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              HasSubstr("compose: no compose.yaml, compose.yml, docker-compose.yaml or "
                        "docker-compose.yml in \"deploy\""));
  // The converter's refusal, with the file it read.
  Write(Src("bad/compose.yaml"), "services:\n  web:\n    image: x\n    privileged: true\n");
  Commit("privileged");
  s.chart_path = "bad";
  r = RenderChart(s, o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("compose: bad/compose.yaml: "));
  EXPECT_THAT(r.status().message(), HasSubstr("privileged"));
}

TEST_F(ChartRenderTest, AComposeFileLinkedOutsideTheCheckoutIsRefused) {
  fs::create_directories(Src("linked"));
  fs::create_symlink("/etc/passwd", Src("linked/compose.yaml"));
  fs::create_symlink("/etc/hostname", Src("hostname.yml"));
  Commit("links out");
  RenderOptions o = Options();
  o.compose = true;
  for (const std::string path : {"linked", "hostname.yml"}) {
    ChartSource s = Source();
    s.chart_path = path;
    auto r = RenderChart(s, o);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr("outside the repository")) << path;
  }
}

TEST_F(ChartRenderTest, ATemplateErrorComesBackWithHelmsMessage) {
  Write(Src("deploy/chart/templates/fail.yaml"), "{{ fail \"boom\" }}\n");
  Commit("boom");
  auto r = RenderChart(Source(), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("render: helm template failed (exit 1): "));
  EXPECT_THAT(r.status().message(), HasSubstr("boom"));
  EXPECT_TRUE(WorkIsEmpty());
}

TEST_F(ChartRenderTest, ADependencyMissingFromChartsIsNamed) {
  Write(Src("deploy/chart/Chart.yaml"),
        absl::StrCat(kChartYaml,
                     "dependencies:\n  - name: redis\n    version: 1.0.0\n"
                     "    repository: https://charts.example.invalid\n"));
  Commit("a dependency");
  auto r = RenderChart(Source(), Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("redis"));
  EXPECT_THAT(r.status().message(), HasSubstr("charts/"));
}

// helm resolves a values.schema.json's $refs: a URL would be fetched from the
// operator's pod, a file:// one read there. The schema is not used at all.
TEST_F(ChartRenderTest, TheChartsValuesSchemaIsNotLoaded) {
  const std::string marker = dir_ + "/read-by-helm";
  Write(marker, "not json");
  Write(Src("deploy/chart/values.schema.json"),
        absl::StrCat(R"({"type": "object", "properties": {"replicas": {"$ref": "file://)", marker,
                     R"("}, "greeting": {"$ref": "http://127.0.0.1:1/schema.json"}}})"));
  Commit("a schema with references");
  auto r = RenderChart(Source(), Options());
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(ChartRenderTest, OutputOverItsBoundIsAnError) {
  RenderOptions o = Options();
  o.max_output_bytes = 200;
  auto r = RenderChart(Source(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r.status().message(),
            "render: helm template printed more than max_output_bytes (200 bytes)");
  EXPECT_TRUE(WorkIsEmpty());
}

TEST_F(ChartRenderTest, ARepositoryOverItsBoundIsRefusedBeforeItIsCheckedOut) {
  // Zeros: a small pack that inflates on checkout.
  Write(Src("big.bin"), std::string(3 << 20, '\0'));
  const std::string big = Commit("big");
  RenderOptions o = Options();
  o.max_repo_bytes = 1 << 20;
  auto r = RenderChart(Source(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrCat("size: ", url_, " at ", big,
                                     " holds more than max_repo_bytes (1048576 bytes")));
  EXPECT_TRUE(WorkIsEmpty());
  o.max_repo_bytes = 8 << 20;
  EXPECT_TRUE(RenderChart(Source(), o).ok());
}

TEST_F(ChartRenderTest, APackOverTheRepositoryBoundIsNotWritten) {
  // Random bytes do not compress: the pack itself is over the bound.
  std::string out;
  ASSERT_EQ(Shell(absl::StrCat("head -c 3000000 /dev/urandom > ", Src("random.bin")), &out), 0)
      << out;
  const std::string random = Commit("random");
  RenderOptions o = Options();
  o.max_repo_bytes = 1 << 20;
  for (const ChartSource& s : {Source(), Source(random)}) {
    auto r = RenderChart(s, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr("size: git fetch of " + url_));
    EXPECT_THAT(r.status().message(),
                HasSubstr("wrote a file larger than max_repo_bytes (1048576 bytes)"));
  }
  EXPECT_TRUE(WorkIsEmpty());
}

TEST_F(ChartRenderTest, AChartThatExhaustsMemoryIsStopped) {
  // 100 bytes doubled 22 times: 400 MiB.
  Write(
      Src("deploy/chart/templates/big.yaml"),
      "{{- $s := \"" + std::string(100, 'x') +
          "\" }}\n{{- range until 22 }}{{ $s = printf \"%s%s\" $s $s }}{{ end }}\n"
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {n: \"{{ len $s }}\"}\n");
  Commit("memory");
  RenderOptions o = Options();
  o.max_memory_bytes = 128 << 20;
  auto r = RenderChart(Source(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_EQ(r.status().message(),
            "render: helm template ran out of memory (max_memory_bytes 134217728 bytes)");
}

TEST_F(ChartRenderTest, TheTokenIsNeverInAnError) {
  // An unreachable server (nothing listens on port 1).
  ChartSource s = Source();
  s.url = "https://127.0.0.1:1/team/app.git";
  s.token = kToken;
  auto r = RenderChart(s, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(),
              HasSubstr("clone: git fetch of https://127.0.0.1:1/team/app.git at branch main "
                        "failed (exit 128): "));
  EXPECT_THAT(r.status().message(), Not(HasSubstr(kToken)));

  // A git that prints the token (and in a URL): redacted wherever it is.
  RenderOptions o = Options();
  o.git = GitWrapper(
      "case \"$*\" in *fetch*) echo \"fatal: https://x-access-token:$CATALYST_GIT_TOKEN@host "
      "refused $CATALYST_GIT_TOKEN\" >&2; exit 128;; esac");
  r = RenderChart(s, o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("refused [redacted]"));
  EXPECT_THAT(r.status().message(), Not(HasSubstr(kToken)));
  // Even a token too short for the Redactor's known values.
  s.token = "abc12";
  r = RenderChart(s, o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), Not(HasSubstr("abc12")));
  EXPECT_TRUE(WorkIsEmpty());
}

// The token goes to git through a credential helper reading the child's
// environment, for the URL's host only: not in argv, not in a URL, not in a file.
TEST_F(ChartRenderTest, TheTokenReachesGitAsACredentialOfTheRepositorysHostOnly) {
  ChartSource s = Source();
  s.url = "https://127.0.0.1:1/team/app.git";
  s.token = kToken;
  RenderOptions o = Options();
  // What git's credential machinery answers, with the environment RenderChart gave it.
  o.git = GitWrapper(absl::StrCat(
      "case \"$*\" in *fetch*)\n"
      "  printf 'protocol=https\\nhost=127.0.0.1:1\\n\\n' | git credential fill > ",
      dir_, "/fill-same 2>&1\n",
      "  printf 'protocol=https\\nhost=elsewhere.example\\n\\n' | git credential fill > ", dir_,
      "/fill-other 2>&1\n",
      // After the fetch: nothing it wrote holds the token either.
      "  git \"$@\"; rc=$?\n", "  grep -rl ", kToken, " \"$TMPDIR/..\" > ", dir_,
      "/files-with-token\n", "  exit $rc;;\n", "esac"));
  auto r = RenderChart(s, o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Read(dir_ + "/fill-same"),
              HasSubstr(absl::StrCat("username=x-access-token\npassword=", kToken, "\n")));
  EXPECT_THAT(Read(dir_ + "/fill-other"), Not(HasSubstr(kToken)))
      << "another host (a redirect) gets no token";
  EXPECT_EQ(Read(dir_ + "/files-with-token"), "") << "no file in the scratch directory holds it";
  const std::string log = Read(dir_ + "/git.log");
  ASSERT_THAT(log, HasSubstr("argv: -C "));
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StartsWith(line, "argv: ")) {
      EXPECT_THAT(line, Not(HasSubstr(kToken)));
    }
    if (absl::StartsWith(line, "env: GIT_CONFIG_VALUE_")) {
      EXPECT_THAT(line, Not(HasSubstr(kToken))) << "the helper reads it from the environment";
    }
  }
  EXPECT_THAT(log, HasSubstr(absl::StrCat("env: CATALYST_GIT_TOKEN=", kToken, "\n")));
  EXPECT_THAT(log, HasSubstr("=credential.https://127.0.0.1:1.helper\n"));
}

TEST_F(ChartRenderTest, TheChildrenGetNoClusterCredentialsAndOnlyTheirOwnConfig) {
  ScopedEnv env({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                 {"KUBERNETES_SERVICE_PORT", "443"},
                 {"KUBECONFIG", "/etc/kubeconfig"},
                 {"GIT_DIR", "/elsewhere"}});
  RenderOptions o = Options();
  o.git = GitWrapper();
  const std::string helm_log = dir_ + "/helm.log";
  o.helm = dir_ + "/helm-wrapper";
  Write(o.helm,
        absl::StrCat("#!/bin/sh\n{ echo \"argv: $*\"; env | sed 's/^/env: /'; } > ", helm_log,
                     "\nexec ", helm_, " \"$@\"\n"),
        true);
  auto r = RenderChart(Source(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string git = Read(dir_ + "/git.log"), helm = Read(helm_log);
  for (const std::string* log : {&git, &helm}) {
    EXPECT_THAT(*log, Not(HasSubstr("KUBERNETES_")));
    EXPECT_THAT(*log, Not(HasSubstr("KUBECONFIG")));
    EXPECT_THAT(*log, Not(HasSubstr("GIT_DIR")));
    EXPECT_THAT(*log, HasSubstr(absl::StrCat("env: HOME=", dir_, "/work/chart-render.")));
  }
  EXPECT_THAT(git, HasSubstr("env: GIT_CONFIG_NOSYSTEM=1\n"));
  EXPECT_THAT(git, HasSubstr("env: GIT_CONFIG_GLOBAL=/dev/null\n"));
  EXPECT_THAT(git, HasSubstr("env: GIT_TERMINAL_PROMPT=0\n"));
  EXPECT_THAT(git, HasSubstr("=protocol.allow\n"));
  EXPECT_THAT(git, HasSubstr("=protocol.file.allow\n")) << "allow_file_protocol";
  EXPECT_THAT(git, HasSubstr("argv: -C ")) << git;
  EXPECT_THAT(git, HasSubstr(" fetch -q --no-tags --depth 1 -- file://"));
  EXPECT_THAT(helm, HasSubstr(absl::StrCat("env: HELM_CACHE_HOME=", dir_, "/work/chart-render.")));
  EXPECT_THAT(helm, HasSubstr("argv: template preview "));
  EXPECT_THAT(helm, HasSubstr(" --namespace env-ns -f "));
  EXPECT_THAT(helm, HasSubstr(" --skip-tests --skip-schema-validation\n"));
  EXPECT_THAT(helm, Not(HasSubstr("--validate")));
  EXPECT_THAT(helm, Not(HasSubstr("--dependency-update")));
}

TEST_F(ChartRenderTest, AHangingCloneEndsAtTheCloneTimeout) {
  RenderOptions o = Options();
  o.git = GitWrapper("case \"$*\" in *fetch*) exec sleep 60;; esac");
  o.clone_timeout = absl::Seconds(2);
  const absl::Time start = absl::Now();
  auto r = RenderChart(Source(first_), o);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10)) << "git's sleep is 60 s";
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(r.status().message(), absl::StrCat("clone: git fetch of ", url_, " at ", first_,
                                               " did not finish within 2s (clone_timeout)"));
  EXPECT_TRUE(WorkIsEmpty());
}

TEST_F(ChartRenderTest, WhatIsNotInTheRepositoryIsNotFound) {
  ChartSource s = Source(std::string(40, 'a'));
  auto r = RenderChart(s, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_EQ(r.status().message(),
            absl::StrCat("checkout: commit ", std::string(40, 'a'), " not found in ", url_));
  s = Source();
  s.branch = "nope";
  r = RenderChart(s, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_EQ(r.status().message(), absl::StrCat("clone: branch nope not found in ", url_));
}

TEST_F(ChartRenderTest, BadInputIsRefusedBeforeAnythingRuns) {
  RenderOptions o = Options();
  o.git = GitWrapper();
  auto refused = [&](ChartSource s, RenderOptions opt, absl::string_view message) {
    auto r = RenderChart(s, opt);
    ASSERT_FALSE(r.ok()) << message;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    EXPECT_EQ(r.status().message(), message);
  };
  ChartSource s = Source();
  s.branch = "--upload-pack=touch /tmp/x";
  refused(s, o, "clone: branch \"--upload-pack=touch /tmp/x\" is not a valid git branch name");
  s = Source("--upload-pack=x");
  refused(s, o, "clone: commit \"--upload-pack=x\" must be 7 to 40 hex digits");
  s = Source();
  s.url = "ext::sh -c touch% /tmp/x";
  refused(s, o,
          "clone: repository URL \"ext::sh -c touch% /tmp/x\" must start with https://, http://, "
          "ssh://, git:// or git@ and contain no spaces");
  RenderOptions no_file = o;
  no_file.allow_file_protocol = false;
  refused(Source(), no_file,
          absl::StrCat("clone: repository URL \"", url_, "\": file:// is not allowed"));
  RenderOptions no_release = o;
  no_release.release = "";
  refused(Source(), no_release, "render: the release \"\" is not a name");
  EXPECT_FALSE(fs::exists(dir_ + "/git.log")) << "git never ran";
  EXPECT_TRUE(WorkIsEmpty());

  RenderOptions no_helm = Options();
  no_helm.helm = dir_ + "/no-such-helm";
  auto r = RenderChart(Source(), no_helm);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(),
              HasSubstr("render: \"" + dir_ + "/no-such-helm\" is not an executable file"));
}

// The operator holds no SSH key and GitHub App tokens are for HTTPS: ssh's
// forms are fetched over https from the same host and path.
TEST_F(ChartRenderTest, SshUrlsAreFetchedOverHttps) {
  RenderOptions o = Options();
  o.git = GitWrapper("case \"$*\" in *fetch*) exit 128;; esac");
  for (const std::string url :
       {"git@127.0.0.1:team/app.git", "ssh://git@127.0.0.1:2222/team/app.git"}) {
    ChartSource s = Source();
    s.url = url;
    EXPECT_FALSE(RenderChart(s, o).ok());
  }
  const std::string log = Read(dir_ + "/git.log");
  EXPECT_THAT(log, HasSubstr("-- https://127.0.0.1/team/app.git +refs/heads/main:"));
  EXPECT_THAT(log, Not(HasSubstr("-- git@")));
  EXPECT_THAT(log, Not(HasSubstr("-- ssh://")));
}

}  // namespace
}  // namespace controllers

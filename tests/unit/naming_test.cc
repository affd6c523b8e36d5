// TargetNamespace: PRODUCT.md "API" (target namespace) — the label and
// fallback forms, DNS-1123 labels of at most 63 characters, stable, and no
// two distinct names mapping to one namespace.
#include "controllers/naming.h"

#include <random>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace controllers {
namespace {

EnvironmentSpec Env(std::string ns, std::string name, std::string team = "",
                    std::string project = "", std::string environment = "") {
  EnvironmentSpec e;
  e.namespace_ = std::move(ns);
  e.name = std::move(name);
  e.team = std::move(team);
  e.project = std::move(project);
  e.environment = std::move(environment);
  return e;
}

// DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool IsDns1123Label(absl::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

std::string Target(const EnvironmentSpec& e) {
  absl::StatusOr<std::string> ns = TargetNamespace(e);
  EXPECT_TRUE(ns.ok()) << ns.status();
  return ns.ok() ? *ns : "";
}

TEST(NamingTest, LabelFormWhenAllThreeHierarchyLabelsAreSet) {
  EXPECT_EQ(Target(Env("anywhere", "x", "my-team", "my-project", "pr-123")),
            "my-team-my-project-pr-123");
}

TEST(NamingTest, FallbackFormWhenAHierarchyLabelIsMissing) {
  EXPECT_EQ(Target(Env("my-team-my-project", "pr-123", "my-team", "my-project", "")),
            "my-team-my-project-pr-123");
  EXPECT_EQ(Target(Env("team-a", "preview")), "team-a-preview");
}

// PRODUCT.md's example: an Environment named pr-123 in my-team-my-project with
// the labels my-team/my-project/pr-123 gets the same namespace either way, so
// adding or dropping the labels does not move it.
TEST(NamingTest, LabelAndFallbackFormsAgreeForTheConventionalLayout) {
  EXPECT_EQ(Target(Env("my-team-my-project", "pr-123", "my-team", "my-project", "pr-123")),
            Target(Env("my-team-my-project", "pr-123")));
}

TEST(NamingTest, SanitisingAddsAHashSuffix) {
  std::string ns = Target(Env("Team_A", "PR.42"));
  EXPECT_TRUE(IsDns1123Label(ns)) << ns;
  EXPECT_EQ(ns.substr(0, 12), "team-a-pr-42");
  EXPECT_EQ(ns.size(), 12u + 11u) << ns;  // "-" + 10 hex digits
  // Inputs that sanitise alike stay apart.
  EXPECT_NE(Target(Env("team_a", "pr.42")), ns);
  EXPECT_NE(Target(Env("team-a", "pr-42")), ns);
  EXPECT_EQ(Target(Env("team-a", "pr-42")), "team-a-pr-42");
}

TEST(NamingTest, TooLongIsShortenedWithAHashSuffix) {
  std::string name(80, 'x');
  std::string ns = Target(Env("team", name));
  EXPECT_EQ(ns.size(), 63u);
  EXPECT_TRUE(IsDns1123Label(ns)) << ns;
  EXPECT_EQ(ns.substr(0, 10), "team-xxxxx");
  // Exactly 63 is kept as is.
  std::string fits = "team-" + std::string(58, 'y');
  EXPECT_EQ(Target(Env("team", std::string(58, 'y'))), fits);
}

// A name that already ends like a suffix gets one, so a kept name never
// equals a suffixed one.
TEST(NamingTest, NameShapedLikeASuffixedOneGetsASuffix) {
  absl::StatusOr<std::string> plain = NamespaceNameFor("app-0123456789");
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(*plain, "app-0123456789");
  EXPECT_TRUE(IsDns1123Label(*plain));
  // Nine hex digits, or a non-hex letter: kept.
  EXPECT_EQ(*NamespaceNameFor("app-012345678"), "app-012345678");
  EXPECT_EQ(*NamespaceNameFor("app-012345678g"), "app-012345678g");
}

// Deleting an Environment deletes its namespace: it must never be a system one.
TEST(NamingTest, NeverASystemNamespace) {
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    absl::StatusOr<std::string> ns = NamespaceNameFor(name);
    ASSERT_TRUE(ns.ok());
    EXPECT_NE(*ns, name);
    EXPECT_TRUE(IsDns1123Label(*ns));
  }
  EXPECT_NE(Target(Env("kube", "system")), "kube-system");
  EXPECT_NE(Target(Env("x", "y", "kube", "node", "lease")), "kube-node-lease");
}

TEST(NamingTest, ErrorOnlyWhenNothingUsableRemains) {
  absl::StatusOr<std::string> ns = NamespaceNameFor("--..__");
  EXPECT_TRUE(absl::IsInvalidArgument(ns.status()));
  EXPECT_NE(ns.status().message().find("no letter or digit"), absl::string_view::npos);
  EXPECT_TRUE(absl::IsInvalidArgument(TargetNamespace(Env("", "")).status()));
  EXPECT_TRUE(NamespaceNameFor("_a_").ok());
}

// The hash is part of a stored name: it must never change between releases.
TEST(NamingTest, StableAcrossCallsAndReleases) {
  EXPECT_EQ(Target(Env("Team_A", "PR.42")), Target(Env("Team_A", "PR.42")));
  EXPECT_EQ(HexSha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Target(Env("Team_A", "PR.42")), "team-a-pr-42-" + HexSha256("Team_A-PR.42", 10));
}

// No collisions among 100,000 distinct joined names, random and adversarial.
// (Equal joined names share a namespace by PRODUCT.md's format: see naming.h.)
TEST(NamingTest, NoCollisionsAcross100000Inputs) {
  std::mt19937_64 rng(20240611);
  auto pick = [&](absl::string_view alphabet, size_t len) {
    std::string s;
    for (size_t i = 0; i < len; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    return s;
  };
  constexpr absl::string_view kLower = "abcdefghijklmnopqrstuvwxyz0123456789";
  constexpr absl::string_view kMixed =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
  constexpr absl::string_view kHex = "0123456789abcdef";

  absl::flat_hash_map<std::string, std::string> joined_by_ns;  // namespace -> joined name
  absl::flat_hash_map<std::string, std::string> seen_joined;   // joined name -> namespace
  auto check = [&](const EnvironmentSpec& e) {
    bool label_form = !e.team.empty() && !e.project.empty() && !e.environment.empty();
    std::string joined = label_form ? absl::StrCat(e.team, "-", e.project, "-", e.environment)
                                    : absl::StrCat(e.namespace_, "-", e.name);
    absl::StatusOr<std::string> ns = TargetNamespace(e);
    ASSERT_TRUE(ns.ok()) << joined << ": " << ns.status();
    ASSERT_TRUE(IsDns1123Label(*ns)) << joined << " -> " << *ns;
    auto [it, fresh] = seen_joined.emplace(joined, *ns);
    if (!fresh) {
      ASSERT_EQ(it->second, *ns) << "unstable for " << joined;
      return;
    }
    auto [owner, unique] = joined_by_ns.emplace(*ns, joined);
    ASSERT_TRUE(unique) << "\"" << joined << "\" and \"" << owner->second << "\" both map to "
                        << *ns;
  };

  const std::string long_prefix(70, 'p');
  for (int i = 0; seen_joined.size() < 100000; ++i) {
    switch (i % 8) {
      case 0:  // random, fallback form
        check(Env(pick(kLower, 1 + rng() % 30), pick(kMixed, 1 + rng() % 60)));
        break;
      case 1:  // random, label form
        check(Env("ns", "n", pick(kMixed, 1 + rng() % 25), pick(kMixed, 1 + rng() % 25),
                  pick(kMixed, 1 + rng() % 25)));
        break;
      case 2:  // long names sharing a prefix: all cut to the same stem
        check(Env("team", absl::StrCat(long_prefix, i)));
        break;
      case 3:  // long, differing only in the middle
        check(Env("team", absl::StrCat(std::string(30, 'q'), i, std::string(40, 'r'))));
        break;
      case 4: {  // differing only in case and punctuation
        std::string base = absl::StrCat("my-env-", i % 2000);
        for (char& c : base) {
          if (rng() % 3 == 0) c = absl::ascii_toupper(c);
          if (c == '-') c = "-_.~"[rng() % 4];
        }
        check(Env("team-proj", base));
        break;
      }
      case 5: {  // the same parts in the label form and the fallback form
        std::string t = pick(kLower, 1 + rng() % 8), p = pick(kLower, 1 + rng() % 8),
                    n = pick(kLower, 1 + rng() % 8);
        check(Env("ns-" + t, p + "." + n, t, p, n));
        check(Env(t + "." + p, n));
        break;
      }
      case 6:  // names that look suffixed, near and at the 63 limit
        check(Env(pick(kLower, 1 + rng() % 40), absl::StrCat("x-", pick(kHex, 10))));
        break;
      case 7:  // lengths around 63
        check(Env("t", pick(kLower, 55 + rng() % 12)));
        break;
    }
    if (HasFatalFailure()) return;
  }
  EXPECT_GE(seen_joined.size(), 100000u);
}

}  // namespace
}  // namespace controllers

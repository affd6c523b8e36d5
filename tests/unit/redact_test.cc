// Redaction of what the operator republishes from a failing container
// (redact.h): known secret values, URL userinfo, token patterns, key=value
// pairs; ordinary git/npm/server output untouched; messages capped on a
// UTF-8 boundary.
#include "controllers/environment/redact.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controllers/environment/diagnosis.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kube/json_builder.h"
#include "support/fake_cluster_state.h"
#include "util/utf8.h"

namespace controllers {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Redact(absl::string_view text) { return Redactor::PatternsOnly().Redact(text); }

TEST(RedactTest, KnownValuesAreReplacedWherevertheyAppear) {
  const Redactor r({"0123456789abcdef0123456789abcdef", "s3cr3t-value"});
  EXPECT_EQ(r.Redact("password 0123456789abcdef0123456789abcdef rejected"),
            "password [redacted] rejected");
  EXPECT_EQ(r.Redact("a s3cr3t-value, again s3cr3t-value."), "a [redacted], again [redacted].");
  EXPECT_EQ(r.Redact("nothing here"), "nothing here");
}

TEST(RedactTest, ShortKnownValuesAreIgnored) {
  const Redactor r({"abc", "12345", "true"});
  EXPECT_EQ(r.Redact("abc 12345 true"), "abc 12345 true");
}

TEST(RedactTest, AKnownValueContainingAnotherIsRedactedWhole) {
  const Redactor r({"secret", "secret-and-more"});
  EXPECT_EQ(r.Redact("x secret-and-more y"), "x [redacted] y");
}

TEST(RedactTest, AKnownValueUrlEncodedIsRedacted) {
  const Redactor r({"p@ss/w:rd!"});
  EXPECT_EQ(r.Redact("pw p%40ss%2Fw%3Ard%21 end"), "pw [redacted] end");
  EXPECT_EQ(r.Redact("pw p%40ss%2fw%3ard%21 end"), "pw [redacted] end");
}

// The kubelet keeps the last 2048 bytes of a log: the cut can fall inside a secret.
TEST(RedactTest, APieceOfAKnownValueAtEitherEndIsRedacted) {
  const Redactor r({"0123456789abcdef0123456789abcdef"});
  EXPECT_EQ(r.Redact("89abcdef0123456789abcdef is the password"), "[redacted] is the password");
  EXPECT_EQ(r.Redact("the password is 0123456789ab"), "the password is [redacted]");
  // Too short a piece to tell from chance.
  EXPECT_EQ(r.Redact("bcdef done"), "bcdef done");
}

TEST(RedactTest, UrlUserinfoIsRedactedKeepingSchemeAndHost) {
  EXPECT_EQ(Redact("connect postgres://app:hunter2@postgres:5432/app failed"),
            "connect postgres://[redacted]@postgres:5432/app failed");
  EXPECT_EQ(Redact("https://x-access-token:abc@github.com/org/repo.git"),
            "https://[redacted]@github.com/org/repo.git");
  // A password holding '@': up to the authority's last one.
  EXPECT_EQ(Redact("mysql://root:p@ss@db/x"), "mysql://[redacted]@db/x");
  // A token as the user.
  EXPECT_EQ(Redact("'https://tok3n@gitlab.com/a'"), "'https://[redacted]@gitlab.com/a'");
  // ssh's conventional user, and '@' in a path, are no userinfo.
  EXPECT_EQ(Redact("ssh://git@github.com/org/repo"), "ssh://git@github.com/org/repo");
  EXPECT_EQ(Redact("GET https://registry.npmjs.org/@types%2fnode - Not found"),
            "GET https://registry.npmjs.org/@types%2fnode - Not found");
}

TEST(RedactTest, GitHubAndGitLabTokens) {
  for (const char* prefix : {"ghp_", "gho_", "ghs_", "ghu_", "ghr_"}) {
    const std::string token = absl::StrCat(prefix, "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6");
    EXPECT_EQ(Redact(absl::StrCat("token ", token, " expired")), "token [redacted] expired")
        << prefix;
  }
  EXPECT_EQ(Redact("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789 x"),
            "[redacted] x");
  EXPECT_EQ(Redact("glpat-xxxxXXXX1234-abcdefgh done"), "[redacted] done");
  // A prefix without a token's length, or inside a word, is a word.
  EXPECT_EQ(Redact("ghp_short and xghp_aB3dE6gH9jK2mN5pQ8sT1vW4"),
            "ghp_short and xghp_aB3dE6gH9jK2mN5pQ8sT1vW4");
}

TEST(RedactTest, JwtsAndAwsKeysAndBearerTokens) {
  EXPECT_EQ(
      Redact(
          "got eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
          " from header"),
      "got [redacted] from header");
  EXPECT_EQ(Redact("key AKIAIOSFODNN7EXAMPLE used"), "key [redacted] used");
  EXPECT_EQ(Redact("key ASIAIOSFODNN7EXAMPLEX"), "key ASIAIOSFODNN7EXAMPLEX");  // 21 characters
  EXPECT_EQ(Redact("Authorization: Bearer abc.def-123_XYZ=="), "Authorization: Bearer [redacted]");
  EXPECT_EQ(Redact("authorization: bearer 0a1b2c3d4e5f"), "authorization: bearer [redacted]");
  EXPECT_EQ(Redact("Bearer authentication required"), "Bearer authentication required");
}

TEST(RedactTest, PrivateKeyBlocks) {
  EXPECT_EQ(Redact("key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE "
                   "KEY-----\ndone"),
            "key:\n-----BEGIN RSA PRIVATE KEY-----[redacted]-----END RSA PRIVATE KEY-----\ndone");
  // Cut by the tail's budget: only the END, or only the BEGIN.
  EXPECT_EQ(Redact("MIIEow\nIBAAK\n-----END PRIVATE KEY-----\nthen"),
            "[redacted]-----END PRIVATE KEY-----\nthen");
  EXPECT_EQ(Redact("x -----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn"),
            "x -----BEGIN OPENSSH PRIVATE KEY-----[redacted]");
  // A certificate is public.
  const std::string cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
  EXPECT_EQ(Redact(cert), cert);
}

TEST(RedactTest, KeyValuePairsNamingSecrets) {
  EXPECT_EQ(Redact("POSTGRES_PASSWORD=hunter2 PORT=5432"),
            "POSTGRES_PASSWORD=[redacted] PORT=5432");
  EXPECT_EQ(Redact("GET /cb?code=1&access_token=abc123&x=1"),
            "GET /cb?code=1&access_token=[redacted]&x=1");
  EXPECT_EQ(Redact("--password=pw1 --secret = \"two words\""),
            "--password=[redacted] --secret = \"[redacted]\"");
  EXPECT_EQ(Redact(R"({"clientSecret":"s1","user":"bob"})"),
            R"({"clientSecret":"[redacted]","user":"bob"})");
  EXPECT_EQ(Redact("{ apiKey: 'k-1', name: 'web' }"), "{ apiKey: '[redacted]', name: 'web' }");
  EXPECT_EQ(Redact("MYSQL_PWD=x1 DB_PASS=x2 bypass=x3"),
            "MYSQL_PWD=[redacted] DB_PASS=[redacted] bypass=x3");
  // A parser's words after "token:", and JSON's null, are no secret.
  EXPECT_EQ(Redact("Unexpected token: punc (})"), "Unexpected token: punc (})");
  EXPECT_EQ(Redact(R"({"token": null})"), R"({"token": null})");
}

TEST(RedactTest, RedactingTwiceChangesNothing) {
  const Redactor r({"0123456789abcdef"});
  for (const char* text : {"POSTGRES_PASSWORD=hunter2 url=postgres://a:b@h/d",
                           "{\"password\": \"x\"} Bearer 0a1b2c3d4e5f",
                           "0123456789abcdef ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6",
                           "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"}) {
    const std::string once = r.Redact(text);
    EXPECT_EQ(r.Redact(once), once) << text;
  }
}

// What git, npm and a node server print when they fail: nothing to hide,
// so nothing changes.
TEST(RedactTest, OrdinaryGitNpmAndServerOutputIsUntouched) {
  for (const char* line : {
           "Cloning into '/workspace'...",
           "fatal: could not read Username for 'https://github.com': No such device or address",
           "remote: Repository not found.",
           "fatal: repository 'https://github.com/org/repo.git/' not found",
           "error: pathspec 'a1b2c3d' did not match any file(s) known to git",
           "ssh: connect to host github.com port 22: Connection refused",
           "git@github.com: Permission denied (publickey).",
           "npm ERR! code ELIFECYCLE",
           "npm ERR! errno 1",
           "npm ERR! web@1.0.0 start: `node server.js`",
           "npm WARN deprecated request@2.88.2: request has been deprecated, see "
           "https://github.com/request/request/issues/3142",
           "npm ERR! 404 Not Found - GET https://registry.npmjs.org/@acme%2fui - Not found",
           "npm ERR! A complete log of this run can be found in: "
           "/root/.npm/_logs/2024-01-01T00_00_00_000Z-debug-0.log",
           "npm ERR! code E401 npm ERR! Unable to authenticate, need: Basic realm=\"GitHub\"",
           "added 1234 packages from 567 contributors and audited 1235 packages in 20.1s",
           "Error: listen EADDRINUSE: address already in use :::3000",
           "Error: connect ECONNREFUSED 127.0.0.1:5432",
           "error: password authentication failed for user \"app\"",
           "    at Module._compile (node:internal/modules/cjs/loader:1105:14)",
           "SyntaxError: Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON",
           "Error: Cannot find module 'express'",
           "Server listening on http://0.0.0.0:3000 (NODE_ENV=production)",
       }) {
    EXPECT_EQ(Redact(line), line);
  }
}

// The text is the tenant's: no input makes a scan quadratic. Each case is a
// megabyte that would take minutes if a scan started over at every match.
TEST(RedactTest, HostileInputTakesLinearTime) {
  const std::string known(4096, 'a');
  const Redactor r({known, std::string(100, 'b') + "c"});
  auto repeat = [](absl::string_view unit) {
    std::string s;
    while (s.size() < (1u << 20)) absl::StrAppend(&s, unit);
    return s;
  };
  const absl::Time start = absl::Now();
  for (const std::string& text :
       {repeat("github_pat_"), repeat("glpat-"), repeat("AKIA"), repeat("-----END "),
        repeat("-----BEGIN "), repeat("password=\""), repeat("password="), repeat("a://"),
        repeat("eyJ"), repeat("eyJa."), repeat("bearer "), repeat("a"), repeat("b"),
        std::string(1 << 20, ':')}) {
    const std::string out = r.Redact(text);
    EXPECT_LE(out.size(), 2 * text.size());  // a marker is at most 10 bytes more than it hides
  }
  // Linear, this is well under a second (a few seconds under sanitizers).
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
}

TEST(RedactTest, SecretValuesOfReadsTheCachedSecretsAndTheWebAppsAnswer) {
  testing_support::FakeClusterState state;
  auto secret = [&](absl::string_view name, const std::map<std::string, std::string>& data) {
    using kube::J;
    J encoded = J::Obj({});
    for (const auto& [k, v] : data) encoded.Set(k, absl::Base64Escape(v));
    state.Put(kube::resources::kSecrets,
              J::Obj({{"apiVersion", "v1"},
                      {"kind", "Secret"},
                      {"metadata", J::Obj({{"name", name}, {"namespace", "team-pr-1"}})},
                      {"data", std::move(encoded)}})
                  .ToObject());
  };
  secret("postgres-credentials", {{"password", "0123456789abcdef0123456789abcdef"}});
  secret("catalyst-secrets",
         {{"API_KEY", "sk-live-123456"}, {"SHORT", "abc"}, {"PEM", "line-one-x\nline-two-y\n"}});
  TeamSecrets answer;
  answer.data = {{"NEW_KEY", absl::Base64Escape("fresh-from-the-web-app")}};
  state.SetSecrets("team/pr-1", answer);
  std::vector<std::string> values = SecretValuesOf(state, "team-pr-1", "team/pr-1");
  EXPECT_THAT(values, ::testing::UnorderedElementsAre(
                          "0123456789abcdef0123456789abcdef", "sk-live-123456", "line-one-x",
                          "line-two-y", "line-one-x\nline-two-y\n", "fresh-from-the-web-app"));
}

TEST(CapMessageTest, FitsUnchangedElseCutOnACharacterWithAMarker) {
  EXPECT_EQ(CapMessage("short", 100), "short");
  // "é" is two bytes: a cut after 9 bytes would split the fifth one.
  std::string text(20, 'x');
  for (int i = 0; i < 20; ++i) text += "é";
  const std::string cut = CapMessage(text, 20 + 9 + 12);
  EXPECT_EQ(cut, std::string(20, 'x') + "éééé" + " [truncated]");
  EXPECT_LE(cut.size(), 41u);
  const std::string big(40 * 1024, 'a');
  EXPECT_EQ(CapMessage(big, kStatusMessageMax).size(), kStatusMessageMax);
  EXPECT_TRUE(absl::EndsWith(CapMessage(big, kStatusMessageMax), " [truncated]"));
}

TEST(Utf8Test, PrefixAndSuffixNeverSplitACharacter) {
  const std::string s = "a€b";  // € is 3 bytes
  EXPECT_EQ(util::Utf8Prefix(s, 1), "a");
  EXPECT_EQ(util::Utf8Prefix(s, 2), "a");
  EXPECT_EQ(util::Utf8Prefix(s, 3), "a");
  EXPECT_EQ(util::Utf8Prefix(s, 4), "a€");
  EXPECT_EQ(util::Utf8Suffix(s, 1), "b");
  EXPECT_EQ(util::Utf8Suffix(s, 3), "b");
  EXPECT_EQ(util::Utf8Suffix(s, 4), "€b");
  EXPECT_EQ(util::CutUtf8("abcdef", 3, " [truncated]"), " [t");
}

// The diagnosis redacts the termination message before it cuts it to its
// last 400 bytes, and never cuts inside a character.
TEST(RedactTest, DiagnosisQuotesARedactedTail) {
  const std::string password = "0123456789abcdef0123456789abcdef";
  auto pod = [](const std::string& message) {
    using kube::J;
    return J::Obj(
               {{"metadata", J::Obj({{"name", "web-1"}})},
                {"status",
                 J::Obj({{"containerStatuses",
                          J::Arr({J::Obj(
                              {{"name", "web"},
                               {"ready", false},
                               {"restartCount", 2},
                               {"state",
                                J::Obj({{"waiting", J::Obj({{"reason", "CrashLoopBackOff"}})}})},
                               {"lastState",
                                J::Obj({{"terminated", J::Obj({{"reason", "Error"},
                                                               {"exitCode", 1},
                                                               {"message", message}})}})}})})}})}})
        .ToObject();
  };
  const Redactor r({password});
  Diagnosis d =
      Diagnose({pod(absl::StrCat("connecting with ", password, "\nDATABASE_URL=postgres://",
                                 "app:", password, "@postgres:5432/app\nError: boom"))},
               {}, r);
  EXPECT_EQ(d.reason, "CrashLoopBackOff");
  EXPECT_THAT(d.message, Not(HasSubstr(password)));
  EXPECT_THAT(d.message, HasSubstr("connecting with [redacted]"));
  EXPECT_THAT(d.message, HasSubstr("postgres://[redacted]@postgres:5432/app"));
  EXPECT_THAT(d.message, HasSubstr("Error: boom"));
  // A long tail: the secret 1000 bytes before the end is redacted, not cut
  // in two; the quote starts on a character.
  std::string tail = absl::StrCat("pw ", password, " ", std::string(502, 'x'));
  for (int i = 0; i < 300; ++i) tail += "é";
  tail += "!";  // the last 400 bytes start inside an "é"
  d = Diagnose({pod(tail)}, {}, r);
  EXPECT_THAT(d.message, Not(HasSubstr("0123456789")));
  const size_t quote = d.message.find(": ...");
  ASSERT_NE(quote, std::string::npos) << d.message;
  EXPECT_FALSE(util::Utf8Continuation(d.message[quote + 5])) << d.message;
  // A cut that would fall inside a marker comes after it.
  d = Diagnose({pod(absl::StrCat("x", password, " ", std::string(395, 'y')))}, {}, r);
  EXPECT_THAT(d.message, HasSubstr(": ... yyy"));
  EXPECT_THAT(d.message, Not(HasSubstr("acted]")));
  // Without known values, the patterns still apply.
  d = Diagnose({pod("GITHUB_TOKEN=ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6")});
  EXPECT_THAT(d.message, HasSubstr("GITHUB_TOKEN=[redacted]"));
}

}  // namespace
}  // namespace controllers

// Egress (controllers/environment/egress.h): the ranges excepted from
// "anywhere" and the port a repository URL names.
#include "controllers/environment/egress.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace controllers {
namespace {

// The excepted ranges are canonical (the API server refuses an except with
// host bits outside its cidr) and split by family.
TEST(EgressTest, ExceptCidrsAreCanonicalAndSplitByFamily) {
  auto e = ParseEgressExcept(" 10.1.2.3/8, fd00:ec2::254/128 ,192.168.7.7/16");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(e->v4, ::testing::ElementsAre("169.254.0.0/16", "10.0.0.0/8", "192.168.0.0/16"));
  EXPECT_THAT(e->v6, ::testing::ElementsAre("fe80::/10", "fd00:ec2::254/128"));
  EXPECT_EQ(GitPort("git@github.com:org/repo.git"), 22);
  EXPECT_EQ(GitPort("https://user:pw@host:8443/r"), 8443);
  EXPECT_EQ(GitPort("https://[::1]/r"), 443);
  // The authority ends at a query or fragment too, as curl reads the URL.
  EXPECT_EQ(GitPort("https://10.0.0.5:2379?/x"), 2379);
  EXPECT_EQ(GitPort("http://169.254.169.254#/latest"), 80);
}

TEST(EgressTest, BadRangesAndPortsAreNamed) {
  EXPECT_FALSE(ParseEgressExcept("10.0.0.0/33").ok());
  EXPECT_FALSE(ParseEgressExcept("::/0").ok());
  EXPECT_FALSE(ParseGitPorts("").ok());
  EXPECT_THAT(*ParseGitPorts("22, 443"), ::testing::ElementsAre(22, 443));
}

}  // namespace
}  // namespace controllers

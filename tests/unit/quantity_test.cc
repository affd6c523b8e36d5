// Quantities as kube-apiserver parses and stores them (apimachinery's resource.Quantity).
#include "kube/quantity.h"

#include "gtest/gtest.h"

namespace kube {
namespace {

TEST(QuantityTest, MatchesTheServer) {
  const std::pair<const char*, const char*> cases[] = {
      // Kept as sent: already canonical.
      {"0", "0"},
      {"4", "4"},
      {"20", "20"},
      {"100m", "100m"},
      {"250m", "250m"},
      {"1500m", "1500m"},
      {"2Gi", "2Gi"},
      {"1Gi", "1Gi"},
      {"5Gi", "5Gi"},
      {"20Gi", "20Gi"},
      {"1Ki", "1Ki"},
      {"12Mi", "12Mi"},
      {"1023Ki", "1023Ki"},
      {"1n", "1m"},
      {"1e3", "1e3"},
      // Rewritten.
      {"8192Mi", "8Gi"},
      {"1024Mi", "1Gi"},
      {"512Mi", "512Mi"},
      {"8Gi", "8Gi"},
      {"16Mi", "16Mi"},
      {"0.5Gi", "512Mi"},
      {"1.5Gi", "1536Mi"},
      {"0.5", "500m"},
      {"1.5", "1500m"},
      {"0.1", "100m"},
      {"1000", "1k"},
      {"4000m", "4"},
      {"1000Mi", "1000Mi"},
      {"1.5Ki", "1536"},
      {"0.5Ki", "512"},
      {"0.1n", "1m"},
      {"0Mi", "0"},
      {"000", "0"},
      {"10", "10"},
      {"100", "100"},
      {"1000k", "1M"},
      {"1024", "1024"},
      {"2048Ki", "2Mi"},
      {"1000e0", "1e3"},
      {"-1000", "-1k"},
      {"0.000000001", "1m"},
      {"1.0", "1"},
  };
  for (const auto& [in, want] : cases) {
    absl::StatusOr<std::string> got = CanonicalQuantity(in);
    ASSERT_TRUE(got.ok()) << in << ": " << got.status();
    EXPECT_EQ(*got, want) << in;
  }
  for (const char* bad : {"", "abc", "1Qi", "1.2.3", "2 Gi", "Mi", ".", "1e", "1e1.5"})
    EXPECT_TRUE(absl::IsInvalidArgument(CanonicalQuantity(bad).status())) << bad;
}

TEST(QuantityTest, ValueInUnits) {
  EXPECT_EQ(*QuantityValue("2Gi"), 2147483648.0);
  EXPECT_EQ(*QuantityValue("512Mi"), 536870912.0);
  EXPECT_EQ(*QuantityValue("250m"), 0.25);
  EXPECT_EQ(*QuantityValue("4"), 4.0);
  EXPECT_FALSE(QuantityValue("x").ok());
}

}  // namespace
}  // namespace kube

// Quantities as kube-apiserver parses and stores them (apimachinery's resource.Quantity).
#include "kube/quantity.h"

#include <string>

#include "gmock/gmock.h"
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

// Tenant input: exponents and digit strings of any size end promptly (a zero
// mantissa with exponent 9e18 once looped 9e18 times) and without overflow.
TEST(QuantityTest, HugeExponentsAndDigitStrings) {
  // Zero is zero whatever the exponent.
  for (const char* zero : {"0e9000000000000000000", "0e9223372036854775807",
                           "0e-9223372036854775808", "-0.000e9223372036854775807", "0.0E18"}) {
    EXPECT_EQ(CanonicalQuantity(zero).value_or("error"), "0") << zero;
    EXPECT_EQ(QuantityValue(zero).value_or(-1), 0.0) << zero;
  }
  // Beyond apimachinery's 2^63-1 units: refused, not capped.
  for (const char* big : {"1e9223372036854775807", "1e9000000000000000000",
                          "-1e9223372036854775807", "1.5e9223372036854775807",
                          "0.1e9223372036854775807", "1e19", "9.3e18", "1e28", "10E", "8Ei"}) {
    absl::StatusOr<std::string> got = CanonicalQuantity(big);
    EXPECT_TRUE(absl::IsInvalidArgument(got.status())) << big << ": " << got.status();
    EXPECT_THAT(std::string(got.status().message()), testing::HasSubstr("too large")) << big;
    EXPECT_FALSE(QuantityValue(big).ok()) << big;
  }
  // The largest that fit stay; exponents past int64 do not parse.
  EXPECT_EQ(CanonicalQuantity("9e18").value_or("error"), "9e18");
  EXPECT_EQ(CanonicalQuantity("7Ei").value_or("error"), "7Ei");
  EXPECT_EQ(CanonicalQuantity("9E").value_or("error"), "9E");
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalQuantity("1e9223372036854775808").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalQuantity("1e-9223372036854775809").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalQuantity("1e99999999999999999999999").status()));
  // Vanishingly small: rounded up to the 1m minimum, as the server does.
  for (const char* tiny : {"1e-9223372036854775808", "1.5e-9223372036854775808",
                           "-1e-9223372036854775808", "999999999999999999e-9223372036854775808"}) {
    absl::StatusOr<std::string> got = CanonicalQuantity(tiny);
    ASSERT_TRUE(got.ok()) << tiny << ": " << got.status();
    EXPECT_EQ(*got, tiny[0] == '-' ? "-1e-3" : "1e-3") << tiny;
  }
  // Huge digit strings: read exactly in one pass (trailing zeros into the
  // exponent, a fractional tail rounded up); what is too large is refused
  // before any work.
  const std::string zeros(1 << 20, '0');
  EXPECT_EQ(CanonicalQuantity(zeros).value_or("error"), "0");
  EXPECT_EQ(CanonicalQuantity(zeros + "1000").value_or("error"), "1k");
  EXPECT_EQ(CanonicalQuantity(zeros + "1024Mi").value_or("error"), "1Gi");
  EXPECT_EQ(CanonicalQuantity("0." + zeros + "1").value_or("error"), "1m");
  EXPECT_EQ(CanonicalQuantity("0." + zeros + "1e" + std::to_string(zeros.size() + 4)).value_or(""),
            "1e3");
  EXPECT_EQ(CanonicalQuantity(zeros + "." + zeros + "e9223372036854775807").value_or(""), "0");
  EXPECT_EQ(CanonicalQuantity("1e" + zeros + "1").value_or("error"), "10");
  EXPECT_EQ(CanonicalQuantity("1." + zeros).value_or("error"), "1");
  EXPECT_EQ(CanonicalQuantity("0." + std::string(1 << 20, '1')).value_or("error"), "112m");
  EXPECT_EQ(CanonicalQuantity("0." + std::string(1 << 20, '1') + "Ki").value_or("error"),
            "113778m");
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalQuantity(std::string(1 << 20, '7')).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalQuantity("1" + zeros + "Ei").status()));
}

// What CanonicalQuantity writes parses again, to itself: more than 18
// significant digits come out of binary suffixes (17 digits times 2^10) and
// are read exactly, as apimachinery's inf.Dec path does.
TEST(QuantityTest, CanonicalFormsParseToThemselves) {
  const std::pair<const char*, const char*> cases[] = {
      {"00000000000000000004000000000000000.5Ki", "4096000000000000512"},
      {"0.123456789012345678Ei", "142335986942043632727m"},
      {"1234567890123456789", "1234567890123456789"},
      {"9223372036854775807", "9223372036854775807"},
      {"1.000000000000000000000000001", "1001m"},
      // No binary suffix fits: decimal, as the server reads a bare number
      // (found by the tenant_input fuzz target).
      {"00013239812.5Ki", "13557568k"},
      {"1.5Ki", "1536"},
  };
  for (const auto& [in, want] : cases) {
    absl::StatusOr<std::string> got = CanonicalQuantity(in);
    ASSERT_TRUE(got.ok()) << in << ": " << got.status();
    EXPECT_EQ(*got, want) << in;
    EXPECT_EQ(CanonicalQuantity(*got).value_or("error"), want) << in;
    EXPECT_EQ(QuantityValue(*got).value_or(-1), QuantityValue(in).value_or(-2)) << in;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(CanonicalQuantity("9223372036854775808").status()));
}

}  // namespace
}  // namespace kube

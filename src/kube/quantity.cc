#include "kube/quantity.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kube {

namespace {

using u128 = unsigned __int128;

constexpr u128 kNano = 1'000'000'000;
// apimachinery caps a quantity at 2^63-1 (in units); values are held in nanos here.
// Beyond that is refused (InvalidArgument, "quantity too large").
constexpr u128 kMaxNanos = static_cast<u128>(std::numeric_limits<int64_t>::max()) * kNano;

enum class Format { kDecimalSI, kBinarySI, kDecimalExponent };

// apimachinery's suffixer.interpret: base 10 or 2, its exponent, the format.
bool InterpretSuffix(absl::string_view s, int& base, int64_t& exp, Format& format) {
  static constexpr struct {
    const char* suffix;
    int base;
    int exp;
  } kTable[] = {{"", 10, 0},   {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3},
                {"k", 10, 3},  {"M", 10, 6},  {"G", 10, 9},  {"T", 10, 12},
                {"P", 10, 15}, {"E", 10, 18}, {"Ki", 2, 10}, {"Mi", 2, 20},
                {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50}, {"Ei", 2, 60}};
  for (const auto& e : kTable) {
    if (s == e.suffix) {
      base = e.base;
      exp = e.exp;
      format = base == 2 ? Format::kBinarySI : Format::kDecimalSI;
      return true;
    }
  }
  if (s.size() > 1 && (s[0] == 'e' || s[0] == 'E') && absl::SimpleAtoi(s.substr(1), &exp)) {
    base = 10;
    format = Format::kDecimalExponent;
    return true;
  }
  return false;
}

std::string U128ToString(u128 v) {
  if (v == 0) return "0";
  std::string s;
  for (; v; v /= 10) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
  return s;
}

// digits (decimal, no leading zeros) times 2^b, exactly: b/10 passes over the
// digits, whatever their number.
std::string TimesPowerOfTwo(absl::string_view digits, int b) {
  std::string r(digits.rbegin(), digits.rend());  // least significant first
  for (; b > 0; b -= 10) {
    const unsigned m = 1u << std::min(b, 10);
    unsigned carry = 0;
    for (char& c : r) {
      const unsigned x = static_cast<unsigned>(c - '0') * m + carry;
      c = static_cast<char>('0' + x % 10);
      carry = x / 10;
    }
    for (; carry; carry /= 10) r.push_back(static_cast<char>('0' + carry % 10));
  }
  return std::string(r.rbegin(), r.rend());
}

// ceil(digits * 10^e) for digits a non-zero decimal string without leading
// zeros, or nullopt past kMaxNanos. Exact for any length and exponent, in
// one pass: trailing zeros go into e; a fraction left is then never zero, so
// the ceiling is the integer part plus one.
std::optional<u128> CeilNanos(absl::string_view digits, __int128 e) {
  const size_t last = digits.find_last_not_of('0');
  e += static_cast<__int128>(digits.size() - 1 - last);
  digits = digits.substr(0, last + 1);
  const __int128 int_digits = static_cast<__int128>(digits.size()) + e;
  if (int_digits > 28) return std::nullopt;  // >= 10^28 > kMaxNanos
  u128 v = 0;
  if (e >= 0) {
    for (char c : digits) v = v * 10 + static_cast<u128>(c - '0');
    for (__int128 i = 0; i < e; ++i) v *= 10;  // < 10^28 throughout
  } else {
    const size_t n = int_digits > 0 ? static_cast<size_t>(int_digits) : 0;
    for (char c : digits.substr(0, n)) v = v * 10 + static_cast<u128>(c - '0');
    ++v;
  }
  if (v > kMaxNanos) return std::nullopt;
  return v;
}

// A quantity as ParseQuantity reads it.
struct Parsed {
  bool negative = false;
  u128 nanos = 0;  // the magnitude, rounded up to 1m, at most kMaxNanos
  Format format = Format::kDecimalSI;
  bool kept_as_sent = false;  // the server keeps the string as sent
};

absl::StatusOr<Parsed> Parse(absl::string_view q) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("quantity \"", q, "\": ", why));
  };
  Parsed p;
  if (q == "0") {
    p.kept_as_sent = true;
    return p;
  }
  // parseQuantityString: sign, digits (leading zeros dropped), '.', digits, suffix.
  size_t pos = 0;
  if (pos < q.size() && (q[pos] == '-' || q[pos] == '+')) p.negative = q[pos++] == '-';
  size_t digits_start = pos;
  while (pos < q.size() && q[pos] == '0') ++pos;
  size_t num_start = pos;
  while (pos < q.size() && absl::ascii_isdigit(q[pos])) ++pos;
  std::string num(q.substr(num_start, pos - num_start));
  std::string denom;
  if (pos < q.size() && q[pos] == '.') {
    size_t d = ++pos;
    while (pos < q.size() && absl::ascii_isdigit(q[pos])) ++pos;
    denom = std::string(q.substr(d, pos - d));
  }
  if (pos == digits_start || (pos == digits_start + 1 && q[digits_start] == '.'))
    return bad("no number");
  if (num.empty()) num.push_back('0');  // not = "0": GCC 12 -O3 -Wrestrict false positive
  int base;
  int64_t exp;
  if (!InterpretSuffix(q.substr(pos), base, exp, p.format)) return bad("unknown suffix");

  // Lengths and exponents are tenant input: every use below is bounded so the
  // work done never depends on their value (an exponent of 9e18 on a zero
  // mantissa once scaled it 9e18 times), and is done in 128 bits (no overflow
  // at INT64_MIN/INT64_MAX). kLen caps a digit count where only its size
  // relative to 18 matters.
  using i128 = __int128;
  constexpr size_t kLen = 1000;
  const int num_len = static_cast<int>(std::min(num.size(), kLen));
  const int all_len = static_cast<int>(std::min(num.size() + denom.size(), kLen));

  // ParseQuantity's fast path keeps the string when it looks canonical already.
  if (p.format == Format::kBinarySI) {
    int precision = 15 - num_len - static_cast<int>(exp * 3 / 10) - 1;  // exp: 10..60
    int64_t value;
    p.kept_as_sent = denom.empty() && precision >= 0 && absl::SimpleAtoi(num, &value) &&
                     value <= (std::numeric_limits<int64_t>::max() >> exp) && exp % 10 == 0 &&
                     (value & 7) != 0;
  } else {
    int precision = 18 - all_len;
    i128 scale = static_cast<i128>(exp) - static_cast<i128>(denom.size());
    std::string shifted = num + denom;
    // ResourceList defaulting (RoundUp(-3)) clears the kept string below milli.
    p.kept_as_sent = precision >= 0 && scale >= -3 && scale % 3 == 0 &&
                     !absl::EndsWith(shifted, "000") && shifted[0] != '0';
  }

  // The exact value in nanos, rounded up to 1n as the server does.
  const std::string all = absl::StrCat(num, denom);
  absl::string_view digits = all;
  size_t first = digits.find_first_not_of('0');
  if (first == absl::string_view::npos) return p;  // zero, whatever the exponent
  digits.remove_prefix(first);
  i128 exp10 = static_cast<i128>(base == 10 ? exp : 0) - static_cast<i128>(denom.size()) + 9;
  // At least 10^(size-1+exp10) nanos: past 10^28 > kMaxNanos before any work.
  if (static_cast<i128>(digits.size()) + exp10 > 28) return bad("quantity too large");
  std::string shifted;
  if (base == 2) {
    shifted = TimesPowerOfTwo(digits, static_cast<int>(exp));  // exp: 10..60
    digits = shifted;
  }
  std::optional<u128> v = CeilNanos(digits, exp10);
  // apimachinery caps at 2^63-1 units; a ResourceList quantity beyond that is
  // not what the tenant meant: refuse it rather than store a silent cap.
  if (!v) return bad("quantity too large");
  // SetDefaults_ResourceList rounds every quantity up to 1m (away from zero).
  constexpr u128 kMilli = kNano / 1000;
  p.nanos = (*v + kMilli - 1) / kMilli * kMilli;
  return p;
}

}  // namespace

absl::StatusOr<double> QuantityValue(absl::string_view q) {
  absl::StatusOr<Parsed> p = Parse(q);
  if (!p.ok()) return p.status();
  double v = static_cast<double>(p->nanos) / 1e9;
  return p->negative ? -v : v;
}

absl::StatusOr<std::string> CanonicalQuantity(absl::string_view q) {
  absl::StatusOr<Parsed> p = Parse(q);
  if (!p.ok()) return p.status();
  if (p->kept_as_sent) return std::string(q);
  u128 v = p->nanos;
  Format format = p->format;
  if (v == 0) return std::string("0");
  std::string sign = p->negative ? "-" : "";
  if (format == Format::kBinarySI && v >= 1024 * kNano && v % kNano == 0) {
    static constexpr const char* kBin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    u128 units = v / kNano;
    int k = 0;
    while (units % 1024 == 0 && k < 6) {
      units /= 1024;
      ++k;
    }
    // No binary suffix fits (13239812.5Ki is 13557568000): a bare number
    // reads back as decimal SI, which the server stores as 13557568k, so
    // that is the form that compares equal to what it stores (found by the
    // tenant_input fuzz target: the canonical form must be a fixed point).
    if (k > 0) return absl::StrCat(sign, U128ToString(units), kBin[k]);
  }
  if (format == Format::kBinarySI) format = Format::kDecimalSI;
  int64_t e = -9;
  while (v % 10 == 0) {
    v /= 10;
    ++e;
  }
  while (e % 3 != 0) {
    v *= 10;
    --e;
  }
  std::string suffix;
  if (format == Format::kDecimalExponent) {
    if (e != 0) suffix = absl::StrCat("e", e);
  } else {
    static constexpr const char* kDec[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
    suffix = kDec[(e + 9) / 3];  // e is in [-9, 18]: values are at most 2^63-1
  }
  return absl::StrCat(sign, U128ToString(v), suffix);
}

}  // namespace kube

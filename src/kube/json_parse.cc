#include "kube/json_parse.h"

#include <string>
#include <vector>

#include "rapidjson/encodedstream.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace kube {
namespace {

constexpr absl::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

// A SAX filter in front of the document's handler. It knows, for each open
// container, the key it sits under, and swallows the value of a dropped key
// whole (however deeply nested), fixing up member counts as it goes.
class SlimFilter {
 public:
  using Ch = char;
  explicit SlimFilter(rapidjson::Document& out) : out_(out) {}

  bool Null() {
    return Scalar([&] { return out_.Null(); });
  }
  bool Bool(bool b) {
    return Scalar([&] { return out_.Bool(b); });
  }
  bool Int(int i) {
    return Scalar([&] { return out_.Int(i); });
  }
  bool Uint(unsigned u) {
    return Scalar([&] { return out_.Uint(u); });
  }
  bool Int64(int64_t i) {
    return Scalar([&] { return out_.Int64(i); });
  }
  bool Uint64(uint64_t u) {
    return Scalar([&] { return out_.Uint64(u); });
  }
  bool Double(double d) {
    return Scalar([&] { return out_.Double(d); });
  }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool copy) {
    return Scalar([&] { return out_.RawNumber(s, n, copy); });
  }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) {
    return Scalar([&] { return out_.String(s, n, copy); });
  }

  bool StartObject() {
    return Open(false, [&] { return out_.StartObject(); });
  }
  bool StartArray() {
    return Open(true, [&] { return out_.StartArray(); });
  }
  bool EndObject(rapidjson::SizeType) {
    if (skip_) return Close();
    const rapidjson::SizeType members = frames_.back().members;
    frames_.pop_back();
    return out_.EndObject(members);
  }
  bool EndArray(rapidjson::SizeType n) {
    if (skip_) return Close();
    frames_.pop_back();
    return out_.EndArray(n);
  }

  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) {
    if (skip_) return true;
    const absl::string_view key(s, n);
    if (Dropped(key)) {
      skip_ = 1;  // the next value, whatever its size
      return true;
    }
    frames_.back().members++;
    pending_key_.assign(s, n);  // the reader reuses its buffer: copy
    return out_.Key(s, n, copy);
  }

 private:
  struct Frame {
    std::string key;  // the key this container is the value of
    bool array = false;
    rapidjson::SizeType members = 0;
  };

  bool Dropped(absl::string_view key) const {
    const size_t n = frames_.size();
    if (n >= 1 && frames_[n - 1].key == "metadata" && key == "managedFields") return true;
    return n >= 2 && frames_[n - 1].key == "annotations" && frames_[n - 2].key == "metadata" &&
           key == kLastApplied;
  }

  template <typename F>
  bool Scalar(F forward) {
    if (skip_) {
      if (skip_ == 1) skip_ = 0;  // a dropped scalar value: done
      return true;
    }
    return forward();
  }
  template <typename F>
  bool Open(bool array, F forward) {
    if (skip_) {
      ++skip_;
      return true;
    }
    // Array elements inherit the array's key, so "items[].metadata" is found.
    const bool in_array = !frames_.empty() && frames_.back().array;
    frames_.push_back({in_array ? frames_.back().key : pending_key_, array, 0});
    return forward();
  }
  bool Close() {
    if (--skip_ == 1) skip_ = 0;
    return true;
  }

  rapidjson::Document& out_;
  std::vector<Frame> frames_;
  std::string pending_key_;
  int skip_ = 0;  // 0: forwarding; n>0: inside a dropped value, n-1 containers deep
};

}  // namespace

rapidjson::ParseResult ParseJson(rapidjson::Document& doc, absl::string_view json, bool slim) {
  if (!slim) return doc.Parse(json.data(), json.size());
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document& handler) {
    rapidjson::MemoryStream ms(json.data(), json.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
    rapidjson::Reader reader;
    SlimFilter filter(handler);
    result = reader.Parse(is, filter);
    return !result.IsError();
  };
  doc.Populate(generate);
  return result;
}

}  // namespace kube

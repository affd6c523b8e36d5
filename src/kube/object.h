// Object: one Kubernetes object, parsed once, immutable, shared without copying.
//
// Caches, watch events and readers all hold the same parsed document; the
// accessors cover the metadata every piece needs and a path lookup for the rest.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace kube {

class Object;
class PackedObject;

namespace internal {
// The pool a document allocates from, and the stateless allocator behind both
// (RapidJSON would otherwise `new` one each for the pool and the parse stack:
// 64 bytes per cached object).
struct DocumentPool {
  explicit DocumentPool(size_t chunk_bytes) : pool(chunk_bytes, &crt) {}
  rapidjson::CrtAllocator crt;
  rapidjson::MemoryPoolAllocator<> pool;
};
}  // namespace internal

// The mark a cache sets on what it no longer holds (Object::Superseded).
class CacheMark {
 public:
  void Set() const { set_.store(true, std::memory_order_release); }
  bool IsSet() const { return set_.load(std::memory_order_acquire); }

 private:
  mutable std::atomic<bool> set_{false};
};

// A document with its pool, in one allocation, and the mark a cache sets when
// it stops holding it.
class OwnedDocument : private internal::DocumentPool, public rapidjson::Document {
 public:
  explicit OwnedDocument(size_t chunk_bytes)
      : DocumentPool(chunk_bytes), rapidjson::Document(&pool, kDefaultStackCapacity, &crt) {}

 private:
  friend class kube::Object;  // (plain `Object` is RapidJSON's typedef here)
  friend class kube::PackedObject;
  static constexpr size_t kDefaultStackCapacity = 1024;
  CacheMark mark_;
  // A copy unpacked from a cache's PackedObject: the cache marks that.
  std::shared_ptr<const CacheMark> origin_;
};

class Object {
 public:
  using Document = rapidjson::Document;
  using Value = rapidjson::Value;

  Object() = default;
  // Parses a JSON object. Errors name the offset; a non-object is an error.
  static absl::StatusOr<Object> Parse(absl::string_view json);
  // Copies v (an object) into a document of its own; size_hint (the JSON's
  // length, if known) sizes the memory pool so small objects stay small.
  static Object Copy(const Value& v, size_t size_hint = 0);
  // Takes a document built elsewhere (must be an object).
  static Object Adopt(std::shared_ptr<const OwnedDocument> doc);
  // A fresh document whose pool allocates chunks of about chunk_bytes.
  static std::shared_ptr<OwnedDocument> NewDocument(size_t chunk_bytes);

  explicit operator bool() const { return doc_ != nullptr; }
  const Value& json() const { return *doc_; }
  std::string Serialize() const;

  absl::string_view ApiVersion() const { return Str({"apiVersion"}); }
  absl::string_view Kind() const { return Str({"kind"}); }
  absl::string_view Name() const { return Str({"metadata", "name"}); }
  absl::string_view Namespace() const { return Str({"metadata", "namespace"}); }
  absl::string_view Uid() const { return Str({"metadata", "uid"}); }
  absl::string_view ResourceVersion() const { return Str({"metadata", "resourceVersion"}); }
  int64_t Generation() const { return Int({"metadata", "generation"}); }
  bool Deleting() const { return Find({"metadata", "deletionTimestamp"}) != nullptr; }
  absl::string_view Label(absl::string_view key) const { return Str({"metadata", "labels", key}); }
  absl::string_view Annotation(absl::string_view key) const {
    return Str({"metadata", "annotations", key});
  }
  // "namespace/name", or "name" when cluster-scoped: the cache and queue key.
  std::string Key() const;

  // Set by a cache (informer::Store) when it replaces or drops this document
  // (or the packed form this one was unpacked from): whoever kept a handle can
  // tell it is no longer the cached object without looking it up again
  // (controllers/environment/pass_memo.h). Never cleared.
  void MarkSuperseded() const {
    if (doc_) doc_->mark_.Set();
  }
  bool Superseded() const { return doc_ && Mark()->IsSet(); }
  // What Superseded() reads, to keep instead of the object (null if empty).
  std::shared_ptr<const CacheMark> Mark() const;

  // The value at path (object members only), or nullptr.
  const Value* Find(std::initializer_list<absl::string_view> path) const;
  // The string/integer at path, or empty/0 when absent or of another type.
  absl::string_view Str(std::initializer_list<absl::string_view> path) const;
  int64_t Int(std::initializer_list<absl::string_view> path) const;

 private:
  friend class PackedObject;
  explicit Object(std::shared_ptr<const OwnedDocument> doc) : doc_(std::move(doc)) {}
  std::shared_ptr<const OwnedDocument> doc_;
};

// PackedObject: an Object kept as its compact JSON text, for a cache that
// holds many objects and reads few of them: about half the memory of a
// parsed document for the small objects an operator owns (docs/benchmarks.md).
// Unpack parses a fresh copy, whose Superseded() follows this one's mark.
class PackedObject {
 public:
  PackedObject() = default;
  static PackedObject Pack(const Object& o);

  explicit operator bool() const { return block_ != nullptr; }
  // A parsed copy; empty only if the text does not parse, which text written
  // by Pack always does.
  Object Unpack() const;
  absl::string_view ResourceVersion() const {
    return absl::string_view(block_->data).substr(0, block_->rv_size);
  }
  void MarkSuperseded() const { block_->Set(); }
  bool Superseded() const { return block_->IsSet(); }
  // The same packed text (not merely equal).
  friend bool operator==(const PackedObject&, const PackedObject&) = default;

 private:
  struct Block : CacheMark {
    uint32_t rv_size = 0;
    std::string data;  // resourceVersion, then the JSON
  };
  std::shared_ptr<const Block> block_;
};

// Member lookup by string_view (RapidJSON wants a Value or a C string).
const rapidjson::Value* Member(const rapidjson::Value& v, absl::string_view key);
absl::string_view StrOf(const rapidjson::Value* v);

}  // namespace kube

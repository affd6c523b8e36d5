// Store: the informer's thread-safe cache of objects (client-go's
// thread_safe_store + indexers, kube-rs's reflector::Store).
//
// Keyed by "namespace/name". Objects are immutable and shared: a reader gets a
// reference-counted handle, never a copy. An object the store replaces or drops
// is marked (kube::Object::Superseded), so a handle can be checked for being
// current without a lookup. Indexes map a value (a namespace, an
// owning Environment) to the keys of the objects that carry it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "kube/object.h"

namespace informer {

// Returns the index values of an object (none: the object is not indexed).
using IndexFunc = std::function<std::vector<std::string>(const kube::Object&)>;

// Index values for namespace-scoped lookups.
std::vector<std::string> ByNamespace(const kube::Object& o);
// Index by a label's value (e.g. the owning Environment).
IndexFunc ByLabel(std::string label);

class Store {
 public:
  // packed: hold objects as compact JSON text (kube::PackedObject), about
  // half the memory, and hand readers a parsed copy: for a cache that holds
  // many objects and reads few of them (the operator's owned objects).
  explicit Store(bool packed = false) : packed_(packed) {}

  // Indexers are added before the store is filled.
  void AddIndex(const std::string& name, IndexFunc fn);

  // Readers get the cached document itself, or (packed) a parsed copy of it;
  // either way the object's Superseded() turns true once the store replaces or
  // drops what it was read from.

  // Inserts or replaces; returns the previous object under that key, if any.
  // An object older than the cached one (a smaller resourceVersion: the
  // cache holds the response to the operator's own write, written through
  // before the watch delivered it) changes nothing; the cached one is
  // returned as if it were replaced by itself.
  std::optional<kube::Object> Upsert(const kube::Object& obj);
  // Removes; returns what was there. deleted_at: the resourceVersion of the
  // deletion (a watch's DELETED event): an Upsert of an older version of that
  // key (a write's answer written through after the delete was seen) is not
  // taken for a new object. The last kTombstones deletions are remembered.
  std::optional<kube::Object> Remove(const std::string& key, absl::string_view deleted_at = {});
  static constexpr size_t kTombstones = 4096;

  // The outcome of replacing the whole content (a relist).
  struct Delta {
    std::optional<kube::Object> old;  // absent for an add
    std::optional<kube::Object> now;  // absent for a delete
  };
  // Replaces everything with objs. Returns what changed: adds, updates (the
  // resourceVersion differs) and deletes (keys not in objs) — the events a
  // watch would have delivered during a gap. An object whose resourceVersion
  // did not change keeps its cached document (and stays current), and so does
  // one the cache holds a newer version of (a list served from a lagging
  // watch cache, after a write-through).
  std::vector<Delta> Replace(const std::vector<kube::Object>& objs);

  std::optional<kube::Object> Get(const std::string& key) const;
  std::vector<kube::Object> List() const;
  std::vector<std::string> Keys() const;
  std::vector<kube::Object> ByIndex(const std::string& index, const std::string& value) const;
  size_t Size() const;

  // Set, and replaced by a fresh one, whenever the store adds an object under
  // a key it did not hold: whoever found a key absent and kept the mark it
  // read before looking can tell later whether anything was added since
  // (controllers/environment/pass_memo.h), without looking again.
  std::shared_ptr<const kube::CacheMark> AddMark() const;

 private:
  // One cached object: parsed, or packed if the store is.
  struct Entry {
    kube::Object object;
    kube::PackedObject packed;
  };
  Entry Hold(const kube::Object& o) const;
  static kube::Object Read(const Entry& e);
  static absl::string_view Version(const Entry& e);
  static void Mark(const Entry& e);
  static bool Same(const Entry& a, const Entry& b);
  static bool Newer(const Entry& cached, const kube::Object& incoming);

  void IndexLocked(const std::string& key, const kube::Object* old, const kube::Object* now);

  void MarkAddedLocked();

  const bool packed_;
  mutable std::shared_mutex mu_;
  std::shared_ptr<const kube::CacheMark> add_mark_ = std::make_shared<const kube::CacheMark>();
  absl::flat_hash_map<std::string, Entry> items_;
  // Recently deleted keys and the resourceVersion of their deletion, oldest first.
  absl::flat_hash_map<std::string, uint64_t> tombstones_;
  std::deque<std::string> tombstone_order_;
  absl::flat_hash_map<std::string, IndexFunc> index_funcs_;
  // index name → value → keys
  absl::flat_hash_map<std::string,
                      absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>>>
      indexes_;
};

}  // namespace informer

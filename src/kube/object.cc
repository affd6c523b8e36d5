#include "kube/object.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace kube {

const rapidjson::Value* Member(const rapidjson::Value& v, absl::string_view key) {
  if (!v.IsObject()) return nullptr;
  for (const auto& m : v.GetObject())
    if (absl::string_view(m.name.GetString(), m.name.GetStringLength()) == key) return &m.value;
  return nullptr;
}

absl::string_view StrOf(const rapidjson::Value* v) {
  if (!v || !v->IsString()) return {};
  return {v->GetString(), v->GetStringLength()};
}

std::shared_ptr<OwnedDocument> Object::NewDocument(size_t chunk_bytes) {
  return std::make_shared<OwnedDocument>(std::max<size_t>(chunk_bytes, 256));
}

Object Object::Copy(const Value& v, size_t size_hint) {
  auto doc = NewDocument(size_hint + size_hint / 2);
  doc->CopyFrom(v, doc->GetAllocator());
  return Object(std::move(doc));
}

absl::StatusOr<Object> Object::Parse(absl::string_view json) {
  // DOM values take ~16 bytes each beside their strings: 1.5x the text is typical.
  auto doc = NewDocument(json.size() + json.size() / 2);
  doc->Parse(json.data(), json.size());
  if (doc->HasParseError())
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON at offset ", doc->GetErrorOffset(), ": ",
                     rapidjson::GetParseError_En(doc->GetParseError())));
  if (!doc->IsObject()) return absl::InvalidArgumentError("JSON is not an object");
  return Object(std::move(doc));
}

Object Object::Adopt(std::shared_ptr<const OwnedDocument> doc) { return Object(std::move(doc)); }

std::shared_ptr<const CacheMark> Object::Mark() const {
  if (!doc_) return nullptr;
  if (doc_->origin_) return doc_->origin_;
  return std::shared_ptr<const CacheMark>(doc_, &doc_->mark_);
}

PackedObject PackedObject::Pack(const Object& o) {
  auto block = std::make_shared<Block>();
  const absl::string_view rv = o.ResourceVersion();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  o.json().Accept(w);
  block->rv_size = static_cast<uint32_t>(rv.size());
  block->data.reserve(rv.size() + buf.GetSize());
  block->data.append(rv.data(), rv.size());
  block->data.append(buf.GetString(), buf.GetSize());
  PackedObject p;
  p.block_ = std::move(block);
  return p;
}

Object PackedObject::Unpack() const {
  const absl::string_view json = absl::string_view(block_->data).substr(block_->rv_size);
  // Compact text: the DOM takes about 1.5x its length, in one chunk.
  auto doc = Object::NewDocument(json.size() + json.size() / 2);
  doc->Parse(json.data(), json.size());
  if (doc->HasParseError() || !doc->IsObject()) return Object();
  doc->origin_ = block_;
  return Object(std::move(doc));
}

std::string Object::Serialize() const {
  if (!doc_) return "null";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc_->Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string Object::Key() const {
  auto ns = Namespace();
  return ns.empty() ? std::string(Name()) : absl::StrCat(ns, "/", Name());
}

const rapidjson::Value* Object::Find(std::initializer_list<absl::string_view> path) const {
  if (!doc_) return nullptr;
  const Value* v = doc_.get();
  for (auto key : path)
    if (!(v = Member(*v, key))) return nullptr;
  return v;
}

absl::string_view Object::Str(std::initializer_list<absl::string_view> path) const {
  return StrOf(Find(path));
}

int64_t Object::Int(std::initializer_list<absl::string_view> path) const {
  const Value* v = Find(path);
  return v && v->IsInt64() ? v->GetInt64() : 0;
}

}  // namespace kube

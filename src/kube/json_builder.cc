#include "kube/json_builder.h"

namespace kube {

J J::Obj(std::initializer_list<Member> members) { return J(Members(members)); }

J J::Strings(const std::vector<std::string>& items) {
  Array a;
  a.reserve(items.size());
  for (const std::string& s : items) a.emplace_back(s);
  return J(std::move(a));
}

J& J::Set(std::string key, J value) {
  std::get<Members>(v_).push_back(Member{std::move(key), std::move(value)});
  return *this;
}

J& J::Push(J value) {
  std::get<Array>(v_).push_back(std::move(value));
  return *this;
}

rapidjson::Value J::ToValue(rapidjson::Document::AllocatorType& a) const {
  rapidjson::Value out;
  if (const auto* b = std::get_if<bool>(&v_)) {
    out.SetBool(*b);
  } else if (const auto* i = std::get_if<int64_t>(&v_)) {
    out.SetInt64(*i);
  } else if (const auto* s = std::get_if<std::string>(&v_)) {
    out.SetString(s->data(), static_cast<rapidjson::SizeType>(s->size()), a);
  } else if (const auto* arr = std::get_if<Array>(&v_)) {
    out.SetArray();
    for (const J& item : *arr) out.PushBack(item.ToValue(a), a);
  } else if (const auto* o = std::get_if<Object>(&v_)) {
    if (*o) out.CopyFrom(o->json(), a);
  } else {
    out.SetObject();
    for (const Member& m : std::get<Members>(v_)) {
      rapidjson::Value key(m.key.data(), static_cast<rapidjson::SizeType>(m.key.size()), a);
      out.AddMember(key, m.value.ToValue(a), a);
    }
  }
  return out;
}

Object J::ToObject() const {
  auto doc = Object::NewDocument(2048);
  rapidjson::Value v = ToValue(doc->GetAllocator());
  static_cast<rapidjson::Value&>(*doc).Swap(v);
  return Object::Adopt(std::move(doc));
}

}  // namespace kube

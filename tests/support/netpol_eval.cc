#include "support/netpol_eval.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace testing_support {
namespace {

std::string Str(const rapidjson::Value* v) { return std::string(kube::StrOf(v)); }

// ip inside cidr ("a.b.c.d/n" or "x::y/n"); a family mismatch is outside.
bool InCidr(const std::string& ip, const std::string& cidr) {
  const size_t slash = cidr.find('/');
  if (slash == std::string::npos) return false;
  const bool v6 = cidr.find(':') != std::string::npos;
  if (v6 != (ip.find(':') != std::string::npos)) return false;
  unsigned char a[16] = {}, n[16] = {};
  const int family = v6 ? AF_INET6 : AF_INET;
  if (inet_pton(family, ip.c_str(), a) != 1 ||
      inet_pton(family, cidr.substr(0, slash).c_str(), n) != 1)
    return false;
  int bits = std::stoi(cidr.substr(slash + 1));
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    const unsigned char mask = static_cast<unsigned char>(0xff00 >> std::min(bits, 8));
    if ((a[i] & mask) != (n[i] & mask)) return false;
  }
  return true;
}

bool IpBlockMatches(const rapidjson::Value& block, const std::string& ip) {
  if (!InCidr(ip, Str(kube::Member(block, "cidr")))) return false;
  if (const auto* except = kube::Member(block, "except"); except && except->IsArray())
    for (const auto& e : except->GetArray())
      if (InCidr(ip, Str(&e))) return false;
  return true;
}

bool HasType(const rapidjson::Value& spec, absl::string_view type) {
  const rapidjson::Value* types = kube::Member(spec, "policyTypes");
  if (!types || !types->IsArray() || types->Empty()) {
    // Absent: Ingress always, Egress when the policy has egress rules.
    if (type == "Ingress") return true;
    return kube::Member(spec, "egress") != nullptr;
  }
  for (const auto& t : types->GetArray())
    if (kube::StrOf(&t) == type) return true;
  return false;
}

Protocol ProtocolOf(const rapidjson::Value& port) {
  std::string p = Str(kube::Member(port, "protocol"));
  if (p == "UDP") return Protocol::kUDP;
  if (p == "SCTP") return Protocol::kSCTP;
  return Protocol::kTCP;
}

bool PortsMatch(const rapidjson::Value& rule, Protocol protocol, int port) {
  const rapidjson::Value* ports = kube::Member(rule, "ports");
  if (!ports || !ports->IsArray() || ports->Empty()) return true;
  for (const auto& p : ports->GetArray()) {
    if (ProtocolOf(p) != protocol) continue;
    const rapidjson::Value* number = kube::Member(p, "port");
    if (!number) return true;        // every port of that protocol
    if (!number->IsInt()) continue;  // a named port: not modelled
    const rapidjson::Value* end = kube::Member(p, "endPort");
    int last = end && end->IsInt() ? end->GetInt() : number->GetInt();
    if (port >= number->GetInt() && port <= last) return true;
  }
  return false;
}

}  // namespace

bool SelectorMatches(const rapidjson::Value& selector, const Labels& labels) {
  if (const rapidjson::Value* ml = kube::Member(selector, "matchLabels"); ml && ml->IsObject()) {
    for (const auto& m : ml->GetObject()) {
      auto it = labels.find(m.name.GetString());
      if (it == labels.end() || it->second != kube::StrOf(&m.value)) return false;
    }
  }
  if (const rapidjson::Value* me = kube::Member(selector, "matchExpressions");
      me && me->IsArray()) {
    for (const auto& e : me->GetArray()) {
      std::string key = Str(kube::Member(e, "key"));
      std::string op = Str(kube::Member(e, "operator"));
      std::vector<std::string> values;
      if (const rapidjson::Value* vs = kube::Member(e, "values"); vs && vs->IsArray())
        for (const auto& v : vs->GetArray()) values.emplace_back(kube::StrOf(&v));
      auto it = labels.find(key);
      bool has = it != labels.end();
      bool in = has && std::find(values.begin(), values.end(), it->second) != values.end();
      if (op == "In" && !in) return false;
      if (op == "NotIn" && in) return false;
      if (op == "Exists" && !has) return false;
      if (op == "DoesNotExist" && has) return false;
    }
  }
  return true;
}

void NetpolCluster::AddNamespace(const std::string& name, Labels labels) {
  namespaces_[name] = std::move(labels);
}

void NetpolCluster::AddPolicy(const kube::Object& policy) { policies_.push_back(policy); }

Labels NetpolCluster::NamespaceLabels(const std::string& ns) const {
  auto it = namespaces_.find(ns);
  return it == namespaces_.end() ? Labels{} : it->second;
}

bool NetpolCluster::PeerMatches(const rapidjson::Value& peer, const std::string& policy_ns,
                                const Peer& other) const {
  if (const auto* block = kube::Member(peer, "ipBlock"))
    return other.IsExternal() && IpBlockMatches(*block, other.ip);
  if (other.IsExternal()) return false;
  const rapidjson::Value* pod_sel = kube::Member(peer, "podSelector");
  const rapidjson::Value* ns_sel = kube::Member(peer, "namespaceSelector");
  if (!pod_sel && !ns_sel) return false;  // an empty peer is invalid
  // No namespaceSelector: the policy's own namespace only.
  bool ns_ok = ns_sel ? SelectorMatches(*ns_sel, NamespaceLabels(other.ns)) : other.ns == policy_ns;
  bool pod_ok = !pod_sel || SelectorMatches(*pod_sel, other.labels);
  return ns_ok && pod_ok;
}

bool NetpolCluster::SideAllows(Direction dir, const Peer& subject, const Peer& other,
                               Protocol protocol, int port) const {
  if (subject.IsExternal()) return true;
  const char* type = dir == Direction::kIngress ? "Ingress" : "Egress";
  const char* rules_key = dir == Direction::kIngress ? "ingress" : "egress";
  const char* peers_key = dir == Direction::kIngress ? "from" : "to";
  bool isolated = false;
  for (const kube::Object& p : policies_) {
    if (p.Namespace() != subject.ns) continue;
    const rapidjson::Value* spec = p.Find({"spec"});
    if (!spec) continue;
    const rapidjson::Value* sel = kube::Member(*spec, "podSelector");
    if (sel && !SelectorMatches(*sel, subject.labels)) continue;
    if (!HasType(*spec, type)) continue;
    isolated = true;
    const rapidjson::Value* rules = kube::Member(*spec, rules_key);
    if (!rules || !rules->IsArray()) continue;
    for (const auto& rule : rules->GetArray()) {
      if (!PortsMatch(rule, protocol, port)) continue;
      const rapidjson::Value* peers = kube::Member(rule, peers_key);
      if (!peers || !peers->IsArray() || peers->Empty()) return true;  // any peer
      for (const auto& peer : peers->GetArray())
        if (PeerMatches(peer, std::string(p.Namespace()), other)) return true;
    }
  }
  return !isolated;
}

bool NetpolCluster::EgressAllowed(const Peer& from, const Peer& to, Protocol protocol,
                                  int port) const {
  return SideAllows(Direction::kEgress, from, to, protocol, port);
}

bool NetpolCluster::IngressAllowed(const Peer& from, const Peer& to, Protocol protocol,
                                   int port) const {
  return SideAllows(Direction::kIngress, to, from, protocol, port);
}

bool NetpolCluster::Allowed(const Peer& from, const Peer& to, Protocol protocol, int port) const {
  return EgressAllowed(from, to, protocol, port) && IngressAllowed(from, to, protocol, port);
}

}  // namespace testing_support

// A small evaluator of networking.k8s.io/v1 NetworkPolicy semantics, so tests
// can ask "may this pod reach that one on TCP 5432?" of the policies the
// builders produce, the way an enforcing CNI (Calico, Cilium, kindnet) would.
//
// Covered: policyTypes (and their default when absent), spec.podSelector,
// ingress.from / egress.to peers with podSelector, namespaceSelector (both:
// their intersection), matchLabels and matchExpressions, ipBlock cidr and
// except (IPv4 and IPv6) for addresses outside the cluster, ports with
// protocol (default TCP), numeric port and endPort. Simplified: an ipBlock
// matches no pod; a named port matches nothing. A connection is allowed when the source's
// egress and the destination's ingress both allow it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kube/object.h"

namespace testing_support {

using Labels = std::map<std::string, std::string>;

// A pod, or an address outside the cluster.
struct Peer {
  std::string ns;  // empty: outside the cluster
  Labels labels;
  std::string ip;  // outside the cluster: its address

  static Peer Pod(std::string ns, Labels labels = {}) {
    return Peer{std::move(ns), std::move(labels), ""};
  }
  // A public address by default (TEST-NET-3).
  static Peer External(std::string ip = "203.0.113.7") { return Peer{"", {}, std::move(ip)}; }
  bool IsExternal() const { return ns.empty(); }
};

enum class Protocol { kTCP, kUDP, kSCTP };

class NetpolCluster {
 public:
  // Namespace labels, for namespaceSelector (a namespace not added has none).
  void AddNamespace(const std::string& name, Labels labels);
  // A NetworkPolicy; it applies in its metadata.namespace.
  void AddPolicy(const kube::Object& policy);

  // from -> to:port/protocol: egress of `from` and ingress of `to` both allow it.
  bool Allowed(const Peer& from, const Peer& to, Protocol protocol, int port) const;
  // One side only. An external peer has no policies: its side always allows.
  bool EgressAllowed(const Peer& from, const Peer& to, Protocol protocol, int port) const;
  bool IngressAllowed(const Peer& from, const Peer& to, Protocol protocol, int port) const;

 private:
  enum class Direction { kIngress, kEgress };
  bool SideAllows(Direction dir, const Peer& subject, const Peer& other, Protocol protocol,
                  int port) const;
  bool PeerMatches(const rapidjson::Value& peer, const std::string& policy_ns,
                   const Peer& other) const;
  Labels NamespaceLabels(const std::string& ns) const;

  std::map<std::string, Labels> namespaces_;
  std::vector<kube::Object> policies_;
};

// LabelSelector semantics (matchLabels, matchExpressions); {} matches all.
bool SelectorMatches(const rapidjson::Value& selector, const Labels& labels);

}  // namespace testing_support

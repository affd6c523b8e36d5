//go:build tools

// Package tools pins the Kubernetes programs the local control plane runs: scripts/build-kube.sh
// builds them from this module, so every k8s.io module is at the one release go.mod names.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)

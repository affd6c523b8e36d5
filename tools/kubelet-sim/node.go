package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

const (
	kubeletVersion = "v1.37.2"
	nodeIP         = "127.0.0.1"
	leaseNamespace = "kube-node-lease"
	leaseDuration  = 40 // seconds, as the real kubelet's default
)

// Taints the node lifecycle controller (and the TaintNodesByCondition
// admission plugin) put on nodes it has not yet seen Ready. Nothing here
// schedules by taints, but NoExecute ones make the taint manager evict pods.
var notReadyTaintKeys = map[string]bool{
	"node.kubernetes.io/not-ready":   true,
	"node.kubernetes.io/unreachable": true,
}

type nodeAgent struct {
	client    kubernetes.Interface
	name      string
	heartbeat time.Duration
	lister    corelisters.NodeLister
}

func (n *nodeAgent) labels() map[string]string {
	return map[string]string{
		"kubernetes.io/hostname":             n.name,
		"kubernetes.io/os":                   "linux",
		"kubernetes.io/arch":                 "amd64",
		"beta.kubernetes.io/os":              "linux",
		"beta.kubernetes.io/arch":            "amd64",
		"kubelet-sim.catalyst.dev/simulated": "true",
	}
}

// nodeStatus is what a healthy kubelet on a large machine would report.
func (n *nodeAgent) nodeStatus(now metav1.Time, prev []v1.NodeCondition) v1.NodeStatus {
	res := nodeCapacity()
	cond := func(t v1.NodeConditionType, s v1.ConditionStatus, reason, msg string) v1.NodeCondition {
		c := v1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
		for _, p := range prev {
			if p.Type == t && p.Status == s {
				c.LastTransitionTime = p.LastTransitionTime
			}
		}
		return c
	}
	id := fmt.Sprintf("%x", sha256.Sum256([]byte("kubelet-sim/"+n.name)))
	return v1.NodeStatus{
		Capacity:    res,
		Allocatable: res.DeepCopy(),
		Phase:       "", // deprecated, the real kubelet leaves it empty
		Conditions: []v1.NodeCondition{
			cond(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond(v1.NodeReady, v1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
		},
		Addresses: []v1.NodeAddress{
			{Type: v1.NodeInternalIP, Address: nodeIP},
			{Type: v1.NodeHostName, Address: n.name},
		},
		DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: 10250}},
		NodeInfo: v1.NodeSystemInfo{
			MachineID:               id[:32],
			SystemUUID:              id[32:40] + "-" + id[40:44] + "-" + id[44:48] + "-" + id[48:52] + "-" + id[52:64],
			BootID:                  bootID(),
			KernelVersion:           kernelVersion(),
			OSImage:                 "Debian GNU/Linux 12 (bookworm)",
			ContainerRuntimeVersion: "docker://20.10.5",
			KubeletVersion:          kubeletVersion,
			KubeProxyVersion:        kubeletVersion,
			OperatingSystem:         "linux",
			Architecture:            "amd64",
		},
	}
}

// nodeCapacity is generous so that no benchmark runs out of room.
func nodeCapacity() v1.ResourceList {
	return v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse("64"),
		v1.ResourceMemory: resource.MustParse("256Gi"),
		// BinarySI keeps it "5000" on the wire; DecimalSI would say "5k".
		v1.ResourcePods:             *resource.NewQuantity(5000, resource.BinarySI),
		v1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
		"hugepages-1Gi":             resource.MustParse("0"),
		"hugepages-2Mi":             resource.MustParse("0"),
	}
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "00000000-0000-0000-0000-000000000000"
	}
	return strings.TrimSpace(string(b))
}

func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func withoutNotReadyTaints(taints []v1.Taint) ([]v1.Taint, bool) {
	var out []v1.Taint
	removed := false
	for _, t := range taints {
		if notReadyTaintKeys[t.Key] {
			removed = true
			continue
		}
		out = append(out, t)
	}
	return out, removed
}

// register creates the Node or takes over an existing one, retrying until the
// API server answers: the simulator is often started right after the API
// server, before it is ready.
func (n *nodeAgent) register(ctx context.Context) error {
	delay := 200 * time.Millisecond
	for {
		err := n.registerOnce(ctx)
		if err == nil {
			return nil
		}
		klog.Warningf("registering node %s: %v (retrying in %v)", n.name, err, delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay *= 2; delay > 5*time.Second {
			delay = 5 * time.Second
		}
	}
}

func (n *nodeAgent) registerOnce(ctx context.Context) error {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	node := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: n.labels()},
		Status:     n.nodeStatus(now, nil),
	}
	created, err := n.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err == nil {
		klog.Infof("registered node %s", n.name)
		// Create may drop or default parts of the status; write it explicitly.
		created.Status = n.nodeStatus(now, nil)
		_, err = n.client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
		return err
	}
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		existing, err := n.client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed := false
		if existing.Labels == nil {
			existing.Labels = map[string]string{}
		}
		for k, v := range n.labels() {
			if existing.Labels[k] != v {
				existing.Labels[k] = v
				changed = true
			}
		}
		if taints, removed := withoutNotReadyTaints(existing.Spec.Taints); removed {
			existing.Spec.Taints = taints
			changed = true
		}
		if existing.Spec.Unschedulable {
			klog.Infof("node %s is cordoned; leaving it so", n.name)
		}
		if changed {
			if existing, err = n.client.CoreV1().Nodes().Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		existing.Status = n.nodeStatus(now, existing.Status.Conditions)
		_, err = n.client.CoreV1().Nodes().UpdateStatus(ctx, existing, metav1.UpdateOptions{})
		return err
	})
	if err == nil {
		klog.Infof("took over existing node %s", n.name)
	}
	return err
}

// run heart-beats until ctx ends. Both the Ready condition's heartbeat and
// the Lease are renewed, so the node lifecycle controller sees the node alive
// whichever it looks at (node-monitor-grace-period is 40s by default).
func (n *nodeAgent) run(ctx context.Context) {
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := n.updateStatus(ctx); err != nil && ctx.Err() == nil {
			klog.Warningf("node %s status heartbeat: %v", n.name, err)
		}
		if err := n.renewLease(ctx); err != nil && ctx.Err() == nil {
			klog.Warningf("node %s lease renewal: %v", n.name, err)
		}
	}, n.heartbeat)
}

func (n *nodeAgent) updateStatus(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := n.client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			// Someone deleted the node (e.g. a test); come back like a
			// restarted kubelet would.
			klog.Infof("node %s disappeared; re-registering", n.name)
			return n.registerOnce(ctx)
		}
		if err != nil {
			return err
		}
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		node.Status = n.nodeStatus(now, node.Status.Conditions)
		_, err = n.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

func (n *nodeAgent) renewLease(ctx context.Context) error {
	leases := n.client.CoordinationV1().Leases(leaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		lease, err := leases.Get(ctx, n.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			holder := n.name
			dur := int32(leaseDuration)
			lease = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: n.name, Namespace: leaseNamespace},
				Spec: coordinationv1.LeaseSpec{
					HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &now,
				},
			}
			// Like the real kubelet, tie the lease to the node so that
			// deleting the node garbage-collects it.
			if node, err := n.lister.Get(n.name); err == nil {
				lease.OwnerReferences = []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
				}}
			}
			_, err = leases.Create(ctx, lease, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		lease.Spec.RenewTime = &now
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		return err
	})
}

// taintHandler strips not-ready/unreachable taints as soon as they appear. The
// node lifecycle controller would remove them itself after it sees a Ready
// heartbeat, but only on its own schedule; meanwhile NoExecute taints start
// eviction timers on pods.
func (n *nodeAgent) taintHandler(ctx context.Context) cache.ResourceEventHandler {
	check := func(obj interface{}) {
		node, ok := obj.(*v1.Node)
		if !ok || node.Name != n.name {
			return
		}
		if _, removed := withoutNotReadyTaints(node.Spec.Taints); !removed {
			return
		}
		go func() {
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				fresh, err := n.client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				taints, removed := withoutNotReadyTaints(fresh.Spec.Taints)
				if !removed {
					return nil
				}
				fresh.Spec.Taints = taints
				_, err = n.client.CoreV1().Nodes().Update(ctx, fresh, metav1.UpdateOptions{})
				return err
			})
			if err != nil && ctx.Err() == nil {
				klog.Warningf("removing not-ready taints from node %s: %v", n.name, err)
			} else if err == nil {
				klog.V(1).Infof("removed not-ready taints from node %s", n.name)
			}
		}()
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    check,
		UpdateFunc: func(_, obj interface{}) { check(obj) },
	}
}

// nodeLabels returns the node's current labels, for nodeSelector checks.
func (n *nodeAgent) nodeLabels() map[string]string {
	if node, err := n.lister.Get(n.name); err == nil {
		return node.Labels
	}
	return n.labels()
}

package main

// The pod controller: binds unscheduled pods to the simulated node (there is
// no kube-scheduler), drives the status of pods bound to it, and finishes
// graceful deletions. Work is keyed by namespace/name on a rate-limited
// workqueue fed by a shared informer, so thousands of pods cost one watch and
// only real changes cause API writes.

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

const defaultScheduler = "default-scheduler"

type podController struct {
	client   kubernetes.Interface
	nodeName string
	lister   corelisters.PodLister
	indexer  cache.Indexer
	queue    workqueue.RateLimitingInterface
	faults   *faultStore
	ips      *ipAllocator
	ev       *eventer
	t        timing
	node     *nodeAgent

	mu   sync.Mutex
	sims map[string]*podSim

	stats struct{ binds, writes, deletes, errors int64 }
}

func newPodController(client kubernetes.Interface, node *nodeAgent, informer cache.SharedIndexInformer,
	faults *faultStore, ips *ipAllocator, ev *eventer, t timing) *podController {
	c := &podController{
		client:   client,
		nodeName: node.name,
		node:     node,
		lister:   corelisters.NewPodLister(informer.GetIndexer()),
		indexer:  informer.GetIndexer(),
		// Per-item exponential back-off only: the default controller limiter
		// adds a global 10 qps bucket that would throttle a burst of
		// conflicts across thousands of pods.
		queue:  workqueue.NewNamedRateLimitingQueue(workqueue.NewItemExponentialFailureRateLimiter(20*time.Millisecond, 30*time.Second), "pods"),
		faults: faults,
		ips:    ips,
		ev:     ev,
		t:      t,
		sims:   map[string]*podSim{},
	}
	informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueIfOurs,
		UpdateFunc: func(_, obj interface{}) { c.enqueueIfOurs(obj) },
		DeleteFunc: func(obj interface{}) {
			// Always let the worker see it, so it drops the simulation and
			// releases the IP under the queue's per-key exclusion.
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.queue.Add(key)
			}
		},
	})
	faults.onChange = c.enqueueNamespaces
	return c
}

// ours reports whether the simulator is responsible for the pod.
func (c *podController) ours(pod *v1.Pod) bool {
	if pod.Spec.NodeName == c.nodeName {
		return true
	}
	return pod.Spec.NodeName == "" && (pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == defaultScheduler)
}

func (c *podController) enqueueIfOurs(obj interface{}) {
	pod, ok := obj.(*v1.Pod)
	if !ok || !c.ours(pod) {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
		c.queue.Add(key)
	}
}

func (c *podController) enqueueNamespaces(namespaces []string) {
	for _, ns := range namespaces {
		objs, err := c.indexer.ByIndex(cache.NamespaceIndex, ns)
		if err != nil {
			continue
		}
		for _, o := range objs {
			c.enqueueIfOurs(o)
		}
	}
}

// nodeLabelsHandler retries unschedulable pods when the node's labels change,
// as kube-scheduler does on node updates (a nodeSelector may match now).
func (c *podController) nodeLabelsHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj interface{}) {
			o, ok1 := oldObj.(*v1.Node)
			n, ok2 := newObj.(*v1.Node)
			if !ok1 || !ok2 || equality.Semantic.DeepEqual(o.Labels, n.Labels) {
				return
			}
			for _, obj := range c.indexer.List() {
				if pod, ok := obj.(*v1.Pod); ok && pod.Spec.NodeName == "" {
					c.enqueueIfOurs(pod)
				}
			}
		},
	}
}

func (c *podController) run(ctx context.Context, workers int) {
	// After a restart, pods are adopted lazily as they are synced; reserve
	// every IP already handed out first so a new pod cannot get a duplicate.
	for _, obj := range c.indexer.List() {
		if pod, ok := obj.(*v1.Pod); ok && pod.Spec.NodeName == c.nodeName && pod.Status.PodIP != "" {
			c.ips.reserve(pod.Status.PodIP)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.processNext(ctx) {
			}
		}()
	}
	go c.logStats(ctx)
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *podController) processNext(ctx context.Context) bool {
	item, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(item)
	key := item.(string)
	err := c.sync(ctx, key)
	if err == nil {
		c.queue.Forget(key)
		return true
	}
	if ctx.Err() != nil {
		return true
	}
	atomic.AddInt64(&c.stats.errors, 1)
	// Conflicts and throttling are routine at scale; only persistent
	// failures are worth a line at the default verbosity.
	if n := c.queue.NumRequeues(key); n >= 5 && n%5 == 0 {
		klog.Warningf("pod %s: %v (retry %d)", key, err, n)
	} else {
		klog.V(2).Infof("pod %s: %v (will retry)", key, err)
	}
	c.queue.AddRateLimited(key)
	return true
}

// logStats prints a one-line summary now and then, instead of a line per
// pod, so benchmarks with thousands of pods keep the log readable.
func (c *podController) logStats(ctx context.Context) {
	ticker := time.NewTicker(30 * time.Second)
	defer ticker.Stop()
	var last [4]int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		cur := [4]int64{atomic.LoadInt64(&c.stats.binds), atomic.LoadInt64(&c.stats.writes),
			atomic.LoadInt64(&c.stats.deletes), atomic.LoadInt64(&c.stats.errors)}
		if cur == last {
			continue
		}
		c.mu.Lock()
		n := len(c.sims)
		c.mu.Unlock()
		klog.Infof("pods simulated: %d; totals: %d bound, %d status writes, %d deleted, %d retried errors",
			n, cur[0], cur[1], cur[2], cur[3])
		last = cur
	}
}

func (c *podController) forget(key string) {
	c.mu.Lock()
	s := c.sims[key]
	delete(c.sims, key)
	c.mu.Unlock()
	if s != nil && s.podIP != "" {
		c.ips.release(s.podIP)
	}
}

func (c *podController) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.lister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" {
		return c.schedule(ctx, pod)
	}
	if pod.Spec.NodeName != c.nodeName {
		c.forget(key)
		return nil
	}

	now := time.Now()
	c.mu.Lock()
	s := c.sims[key]
	if s != nil && s.uid != pod.UID {
		// Same name, new pod (StatefulSet replacement): start over.
		if s.podIP != "" {
			c.ips.release(s.podIP)
		}
		s = nil
	}
	if s == nil {
		s = newPodSim(pod, now, c.t)
		if s.podIP != "" {
			c.ips.reserve(s.podIP)
		}
		c.sims[key] = s
	}
	c.mu.Unlock()

	base := pod
	if s.written != nil && pod.ResourceVersion == s.writtenFromRV {
		base = s.written
	}
	if base.DeletionTimestamp != nil {
		return c.finish(ctx, key, s, pod, base, now)
	}
	if base.Status.Phase == v1.PodSucceeded || base.Status.Phase == v1.PodFailed {
		return nil // terminal pods are never restarted
	}

	faults := c.faults.forPod(base)
	if fs := faults.String(); fs != s.faults {
		// ConfigMap changes are logged once per namespace by the fault
		// store; per pod only annotation-driven changes are worth a line.
		_, annotated := base.Annotations[faultAnnotation]
		if (annotated || s.annotated) && (fs != "" || s.faults != "") {
			klog.Infof("pod %s: faults %q", key, fs)
		} else {
			klog.V(1).Infof("pod %s: faults %q", key, fs)
		}
		s.faults, s.annotated = fs, annotated
	}
	x := &stepper{pod: base, t: c.t, now: now, ev: c.ev, faults: faults, ips: c.ips}
	// With a step delay every transition gets its own status write so
	// observers can see the sequence; with none, collapse everything that is
	// due into one write.
	for i := 0; i < 20; i++ {
		if !s.step(x) || c.t.step > 0 {
			break
		}
	}
	if err := c.writeStatus(ctx, s, pod, base, s.render(base, faults, now, false)); err != nil {
		return err
	}
	if next := s.nextWake(now); !next.IsZero() {
		c.queue.AddAfter(key, next.Sub(now))
	}
	return nil
}

// writeStatus writes the status through the status subresource when it
// differs from base.
func (c *podController) writeStatus(ctx context.Context, s *podSim, cached, base *v1.Pod, status v1.PodStatus) error {
	if equality.Semantic.DeepEqual(status, base.Status) {
		return nil
	}
	update := base.DeepCopy()
	update.Status = status
	written, err := c.client.CoreV1().Pods(base.Namespace).UpdateStatus(ctx, update, metav1.UpdateOptions{})
	if err != nil {
		s.written = nil
		if apierrors.IsNotFound(err) {
			return nil // deleted meanwhile; the informer will tell us
		}
		return fmt.Errorf("updating status: %w", err)
	}
	atomic.AddInt64(&c.stats.writes, 1)
	s.written = written
	s.writtenFromRV = cached.ResourceVersion
	klog.V(3).Infof("pod %s/%s: phase %s", base.Namespace, base.Name, status.Phase)
	return nil
}

// finish completes a graceful deletion: the kubelet stops the containers,
// reports them terminated and then deletes the pod with grace period 0.
// Without this, pods stay Terminating forever and namespaces never go away.
func (c *podController) finish(ctx context.Context, key string, s *podSim, cached, pod *v1.Pod, now time.Time) error {
	if pod.DeletionGracePeriodSeconds != nil && *pod.DeletionGracePeriodSeconds == 0 {
		return nil // already finished; only finalizers keep it around
	}
	x := &stepper{pod: pod, t: c.t, now: now, ev: c.ev, faults: faultSet{}, ips: c.ips}
	s.terminateAll(x)
	if err := c.writeStatus(ctx, s, cached, pod, s.render(pod, faultSet{}, now, true)); err != nil {
		// The final status is cosmetic; the deletion is what matters.
		klog.V(2).Infof("pod %s: final status: %v", key, err)
	}
	zero := int64(0)
	uid := pod.UID
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil // an earlier pass got there first
	case apierrors.IsConflict(err):
		return nil // a different pod now has the name; its own events follow
	case err != nil:
		return fmt.Errorf("deleting: %w", err)
	}
	atomic.AddInt64(&c.stats.deletes, 1)
	klog.V(2).Infof("pod %s: deleted", key)
	return nil
}

// schedule stands in for kube-scheduler: it binds every schedulable pod to
// the one node. Pods that could never fit (node selector mismatch, a single
// pod asking more than the node has) are marked Unschedulable like the
// scheduler would, which is a useful failure for the operator to diagnose.
func (c *podController) schedule(ctx context.Context, pod *v1.Pod) error {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
		return nil
	}
	if pod.Spec.SchedulerName != "" && pod.Spec.SchedulerName != defaultScheduler {
		return nil
	}
	if reason := c.unschedulableReason(pod); reason != "" {
		return c.markUnschedulable(ctx, pod, reason)
	}
	binding := &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: c.nodeName},
	}
	err := c.client.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	switch {
	case err == nil:
		atomic.AddInt64(&c.stats.binds, 1)
		klog.V(2).Infof("bound pod %s/%s to %s", pod.Namespace, pod.Name, c.nodeName)
		c.ev.scheduled(pod, c.nodeName)
		return nil
	case apierrors.IsNotFound(err), apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		return nil // gone or bound already; the informer brings the news
	default:
		return fmt.Errorf("binding: %w", err)
	}
}

func (c *podController) unschedulableReason(pod *v1.Pod) string {
	labels := c.node.nodeLabels()
	for k, v := range pod.Spec.NodeSelector {
		if labels[k] != v {
			return "0/1 nodes are available: 1 node(s) didn't match node selector."
		}
	}
	alloc := nodeCapacity()
	req := v1.ResourceList{}
	add := func(rl v1.ResourceList, max bool) {
		for name, q := range rl {
			cur, ok := req[name]
			if !ok {
				req[name] = q.DeepCopy()
				continue
			}
			if max {
				if q.Cmp(cur) > 0 {
					req[name] = q.DeepCopy()
				}
			} else {
				cur.Add(q)
				req[name] = cur
			}
		}
	}
	for _, ct := range pod.Spec.Containers {
		add(ct.Resources.Requests, false)
	}
	for _, ct := range pod.Spec.InitContainers {
		add(ct.Resources.Requests, true)
	}
	var insufficient []string
	for _, name := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage} {
		q, ok := req[name]
		limit := alloc[name]
		if ok && q.Cmp(limit) > 0 {
			insufficient = append(insufficient, "1 Insufficient "+string(name))
		}
	}
	if len(insufficient) == 0 {
		return ""
	}
	msg := "0/1 nodes are available: "
	for i, s := range insufficient {
		if i > 0 {
			msg += ", "
		}
		msg += s
	}
	return msg + "."
}

func (c *podController) markUnschedulable(ctx context.Context, pod *v1.Pod, msg string) error {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == v1.PodScheduled && cond.Status == v1.ConditionFalse && cond.Message == msg {
			return nil
		}
	}
	update := pod.DeepCopy()
	cond := v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: v1.PodReasonUnschedulable,
		Message: msg, LastTransitionTime: metav1.NewTime(nowSecond())}
	replaced := false
	for i := range update.Status.Conditions {
		if update.Status.Conditions[i].Type == v1.PodScheduled {
			update.Status.Conditions[i] = cond
			replaced = true
		}
	}
	if !replaced {
		update.Status.Conditions = append(update.Status.Conditions, cond)
	}
	update.Status.Phase = v1.PodPending
	if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, update, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("marking unschedulable: %w", err)
	}
	klog.Infof("pod %s/%s unschedulable: %s", pod.Namespace, pod.Name, msg)
	c.ev.failedScheduling(pod, msg)
	return nil
}

// ipAllocator hands out pod IPs from the pod CIDR. The addresses are only
// data for Endpoints: nothing listens on them, and nothing may dial them.
type ipAllocator struct {
	mu   sync.Mutex
	base uint32
	size uint32
	next uint32
	used map[uint32]bool
}

func newIPAllocator(cidr string) (*ipAllocator, error) {
	_, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, err
	}
	ip4 := ipnet.IP.To4()
	ones, bits := ipnet.Mask.Size()
	if ip4 == nil || bits != 32 || ones > 24 {
		return nil, fmt.Errorf("pod CIDR %s: want an IPv4 range of /24 or larger", cidr)
	}
	return &ipAllocator{base: binary.BigEndian.Uint32(ip4), size: 1 << uint(32-ones), next: 2, used: map[uint32]bool{}}, nil
}

func (a *ipAllocator) toIP(off uint32) string {
	b := make(net.IP, 4)
	binary.BigEndian.PutUint32(b, a.base+off)
	return b.String()
}

func (a *ipAllocator) offset(ip string) (uint32, bool) {
	p := net.ParseIP(ip).To4()
	if p == nil {
		return 0, false
	}
	v := binary.BigEndian.Uint32(p)
	if v < a.base || v >= a.base+a.size {
		return 0, false
	}
	return v - a.base, true
}

func (a *ipAllocator) allocate(pod *v1.Pod) string {
	if pod.Spec.HostNetwork {
		return nodeIP
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Skip network, .1 (gateway-like) and broadcast-looking addresses; cycle
	// so a freed IP is not reused at once (Endpoints may still name it).
	for tries := uint32(0); tries < a.size; tries++ {
		off := a.next
		a.next++
		if a.next >= a.size-1 {
			a.next = 2
		}
		if off%256 == 0 || off%256 == 255 || a.used[off] {
			continue
		}
		a.used[off] = true
		return a.toIP(off)
	}
	klog.Warningf("pod CIDR exhausted; reusing addresses")
	return a.toIP(2)
}

func (a *ipAllocator) reserve(ip string) {
	if off, ok := a.offset(ip); ok {
		a.mu.Lock()
		a.used[off] = true
		a.mu.Unlock()
	}
}

func (a *ipAllocator) release(ip string) {
	if off, ok := a.offset(ip); ok {
		a.mu.Lock()
		delete(a.used, off)
		a.mu.Unlock()
	}
}

package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// faultAnnotation on a pod (usually set through the pod template) selects
// simulated failures for that pod's containers.
const faultAnnotation = "kubelet-sim.catalyst.dev/fault"

type faultMode string

const (
	faultNone      faultMode = ""
	faultHealthy   faultMode = "none" // explicit "no fault": overrides a ConfigMap entry
	faultOOMKilled faultMode = "oomkilled"
	faultCrashLoop faultMode = "crashloop"
	faultImagePull faultMode = "imagepull"
	faultInitHang  faultMode = "init-hang"
	faultInitFail  faultMode = "init-fail"
	faultUnready   faultMode = "unready"
)

var knownModes = map[faultMode]bool{
	faultHealthy: true, faultOOMKilled: true, faultCrashLoop: true, faultImagePull: true,
	faultInitHang: true, faultInitFail: true, faultUnready: true,
}

// crashes reports whether a container in this mode keeps exiting.
func (m faultMode) crashes(isInit bool) bool {
	switch m {
	case faultOOMKilled, faultCrashLoop:
		return true
	case faultInitFail:
		return isInit
	}
	return false
}

// faultSet maps a container name (or "*" for every container the mode
// applies to) to its fault mode.
type faultSet map[string]faultMode

// parseFaults parses "<container>=<mode>[,<container>=<mode>...]". Bad entries
// are skipped and reported in the error so that one typo does not disable the
// valid entries next to it.
func parseFaults(s string) (faultSet, error) {
	set := faultSet{}
	var bad []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		eq := strings.IndexByte(item, '=')
		if eq <= 0 {
			bad = append(bad, item)
			continue
		}
		name := strings.TrimSpace(item[:eq])
		mode := faultMode(strings.ToLower(strings.TrimSpace(item[eq+1:])))
		if !knownModes[mode] {
			bad = append(bad, item)
			continue
		}
		set[name] = mode
	}
	if len(bad) > 0 {
		return set, fmt.Errorf("ignoring invalid fault entries %q (want <container>=<mode>, modes: oomkilled, crashloop, imagepull, init-hang, init-fail, unready, none)", bad)
	}
	return set, nil
}

// modeFor resolves the mode of one container. An exact name wins over "*".
// A wildcard only applies modes that make sense for the container kind, so
// "*=init-hang" does not touch main containers and "*=crashloop" does not
// stop pods from initialising; an explicit name is taken at its word.
func (f faultSet) modeFor(name string, isInit bool) faultMode {
	if m, ok := f[name]; ok {
		return normalizeMode(m, isInit)
	}
	m, ok := f["*"]
	if !ok {
		return faultNone
	}
	switch m {
	case faultInitHang, faultInitFail:
		if !isInit {
			return faultNone
		}
	case faultOOMKilled, faultCrashLoop, faultUnready:
		if isInit {
			return faultNone
		}
	}
	return normalizeMode(m, isInit)
}

// normalizeMode drops modes that have no meaning for the container kind.
func normalizeMode(m faultMode, isInit bool) faultMode {
	switch {
	case m == faultHealthy:
		return faultNone
	case m == faultInitHang && !isInit:
		return faultNone // main containers have no "incomplete" state
	case m == faultUnready && isInit:
		return faultNone // init containers have no readiness
	case m == faultInitFail && !isInit:
		return faultCrashLoop
	}
	return m
}

// String renders the set canonically (sorted) for change detection and logs.
func (f faultSet) String() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+string(f[k]))
	}
	return strings.Join(parts, ",")
}

// faultStore holds the cluster-wide faults from the ConfigMap (keyed by
// namespace) and combines them with per-pod annotations.
type faultStore struct {
	mu     sync.RWMutex
	byNS   map[string]faultSet
	raw    map[string]string
	warned sync.Map // invalid strings already logged, to keep logs concise

	// onChange is called with the namespaces whose entry changed.
	onChange func(namespaces []string)
}

func newFaultStore() *faultStore {
	return &faultStore{byNS: map[string]faultSet{}, raw: map[string]string{}}
}

func (s *faultStore) parseLogged(where, value string) faultSet {
	set, err := parseFaults(value)
	if err != nil {
		if _, seen := s.warned.LoadOrStore(where+"\x00"+value, true); !seen {
			klog.Warningf("%s: %v", where, err)
		}
	}
	return set
}

// forPod returns the effective faults of a pod: the namespace's ConfigMap
// entry, overridden per container by the pod's annotation.
func (s *faultStore) forPod(pod *v1.Pod) faultSet {
	s.mu.RLock()
	nsSet := s.byNS[pod.Namespace]
	s.mu.RUnlock()
	ann, hasAnn := pod.Annotations[faultAnnotation]
	if !hasAnn {
		return nsSet
	}
	podSet := s.parseLogged("pod "+pod.Namespace+"/"+pod.Name+" annotation "+faultAnnotation, ann)
	if len(nsSet) == 0 {
		return podSet
	}
	merged := make(faultSet, len(nsSet)+len(podSet))
	for k, v := range nsSet {
		merged[k] = v
	}
	for k, v := range podSet {
		merged[k] = v
	}
	return merged
}

// setConfigMapData replaces the cluster-wide faults and reports which
// namespaces changed so only their pods are re-evaluated.
func (s *faultStore) setConfigMapData(data map[string]string) {
	s.mu.Lock()
	var changed []string
	for ns, v := range data {
		if old, ok := s.raw[ns]; !ok || old != v {
			changed = append(changed, ns)
		}
	}
	for ns := range s.raw {
		if _, ok := data[ns]; !ok {
			changed = append(changed, ns)
		}
	}
	s.raw = make(map[string]string, len(data))
	s.byNS = make(map[string]faultSet, len(data))
	for ns, v := range data {
		s.raw[ns] = v
		s.byNS[ns] = s.parseLogged("faults ConfigMap key "+ns, v)
	}
	s.mu.Unlock()
	if len(changed) == 0 {
		return
	}
	sort.Strings(changed)
	for _, ns := range changed {
		klog.Infof("faults for namespace %s now %q", ns, data[ns])
	}
	if s.onChange != nil {
		s.onChange(changed)
	}
}

// configMapHandler keeps the store in sync with the faults ConfigMap. The
// informer behind it is already restricted to that one object.
func (s *faultStore) configMapHandler() cache.ResourceEventHandler {
	update := func(obj interface{}) {
		if cm, ok := obj.(*v1.ConfigMap); ok {
			s.setConfigMapData(cm.Data)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    update,
		UpdateFunc: func(_, obj interface{}) { update(obj) },
		DeleteFunc: func(interface{}) { s.setConfigMapData(nil) },
	}
}

package main

// Kubernetes Events like the kubelet and scheduler emit. An operator that
// diagnoses failing workloads reads these as much as pod status, so the fault
// modes produce the same warnings a real node would. Routine lifecycle events
// are optional: at benchmark scale they are thousands of extra writes.

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/tools/reference"
	"k8s.io/klog/v2"
)

type eventMode string

const (
	eventsAll    eventMode = "all"    // lifecycle and fault events
	eventsFaults eventMode = "faults" // only events caused by injected faults or scheduling failures
	eventsNone   eventMode = "none"
)

type eventer struct {
	mode        eventMode
	broadcaster record.EventBroadcaster
	kubelet     record.EventRecorder
	scheduler   record.EventRecorder
}

func newEventer(client kubernetes.Interface, mode eventMode, nodeName string) (*eventer, error) {
	e := &eventer{mode: mode}
	switch mode {
	case eventsAll, eventsFaults:
	case eventsNone:
		return e, nil
	default:
		return nil, fmt.Errorf("--events: want all, faults or none, got %q", mode)
	}
	// The broadcaster queues and drops rather than blocks when the API server
	// is slow, and its correlator aggregates repeats (crash loops).
	e.broadcaster = record.NewBroadcaster()
	e.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	e.kubelet = e.broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: nodeName})
	e.scheduler = e.broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: defaultScheduler})
	return e, nil
}

func (e *eventer) shutdown() {
	if e.broadcaster != nil {
		e.broadcaster.Shutdown()
	}
}

func (e *eventer) wants(fault bool) bool {
	return e.mode == eventsAll || (fault && e.mode == eventsFaults)
}

func (e *eventer) containerEvent(pod *v1.Pod, c *ctrSim, warning bool, fault bool, reason, msg string) {
	if !e.wants(fault) {
		return
	}
	ref, err := reference.GetReference(scheme.Scheme, pod)
	if err != nil {
		klog.V(2).Infof("event reference for %s/%s: %v", pod.Namespace, pod.Name, err)
		return
	}
	if c.init {
		ref.FieldPath = fmt.Sprintf("spec.initContainers{%s}", c.name)
	} else {
		ref.FieldPath = fmt.Sprintf("spec.containers{%s}", c.name)
	}
	typ := v1.EventTypeNormal
	if warning {
		typ = v1.EventTypeWarning
	}
	e.kubelet.Event(ref, typ, reason, msg)
}

func (e *eventer) scheduled(pod *v1.Pod, node string) {
	if e.wants(false) {
		e.scheduler.Eventf(pod, v1.EventTypeNormal, "Scheduled", "Successfully assigned %v/%v to %v", pod.Namespace, pod.Name, node)
	}
}

func (e *eventer) failedScheduling(pod *v1.Pod, msg string) {
	if e.wants(true) {
		e.scheduler.Event(pod, v1.EventTypeWarning, "FailedScheduling", msg)
	}
}

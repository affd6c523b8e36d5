package main

// The per-pod container state machine. Each simulated pod keeps the
// container statuses it is pretending to run; step() moves them forward by
// at most one visible transition per container, and render() turns them into
// the PodStatus a v1.20 kubelet (dockershim runtime) would report.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Waiting reasons and messages the kubelet uses.
const (
	reasonPodInitializing   = "PodInitializing"
	reasonContainerCreating = "ContainerCreating"
	reasonCrashLoopBackOff  = "CrashLoopBackOff"
	reasonErrImagePull      = "ErrImagePull"
	reasonImagePullBackOff  = "ImagePullBackOff"
)

// timing shared by all pods.
type timing struct {
	step    time.Duration // delay between visible transitions
	restart time.Duration // CrashLoopBackOff delay before a crashed container restarts
	// How long main containers of restartPolicy Never/OnFailure pods (Jobs,
	// Helm hooks) run before exiting 0; 0 keeps them running forever.
	complete time.Duration
}

type ctrSim struct {
	name   string
	init   bool
	st     v1.ContainerStatus // State, LastTerminationState, RestartCount, IDs, Image
	nextAt time.Time          // earliest time of the next transition
}

func (c *ctrSim) succeeded() bool {
	t := c.st.State.Terminated
	return c.init && t != nil && t.ExitCode == 0
}

func (c *ctrSim) waitingReason() string {
	if w := c.st.State.Waiting; w != nil {
		return w.Reason
	}
	return ""
}

type podSim struct {
	uid       types.UID
	startTime metav1.Time
	sandboxAt time.Time // when the pod sandbox (and so the IP) comes up
	podIP     string
	init      []*ctrSim
	main      []*ctrSim

	// The informer cache lags behind our own writes. Remember the object the
	// API server returned, and the cached resourceVersion it was based on, so
	// that a sync racing with the cache builds on what was really written
	// instead of provoking a conflict.
	written       *v1.Pod
	writtenFromRV string

	faults    string // last effective fault set, to log changes once
	annotated bool   // whether that set came with a pod annotation
}

func nowSecond() time.Time { return time.Now().Truncate(time.Second) }

// newPodSim starts simulating a pod. A pod that already carries a status
// (the simulator restarted) is adopted as is, so restart counts and IPs
// survive.
func newPodSim(pod *v1.Pod, now time.Time, t timing) *podSim {
	s := &podSim{uid: pod.UID, startTime: metav1.NewTime(now.Truncate(time.Second)), sandboxAt: now.Add(t.step)}
	if pod.Status.StartTime != nil {
		s.startTime = *pod.Status.StartTime
	}
	if pod.Status.PodIP != "" {
		s.podIP = pod.Status.PodIP
		s.sandboxAt = time.Time{}
	}
	defaultReason := reasonContainerCreating
	if len(pod.Spec.InitContainers) > 0 {
		defaultReason = reasonPodInitializing
	}
	mk := func(c v1.Container, isInit bool, prev []v1.ContainerStatus) *ctrSim {
		cs := &ctrSim{name: c.Name, init: isInit}
		if old, ok := findStatus(prev, c.Name); ok && (old.State.Running != nil || old.State.Terminated != nil || old.State.Waiting != nil) {
			cs.st = *old.DeepCopy()
		} else {
			cs.st = v1.ContainerStatus{
				Name:  c.Name,
				Image: c.Image,
				State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: defaultReason}},
			}
		}
		return cs
	}
	for _, c := range pod.Spec.InitContainers {
		s.init = append(s.init, mk(c, true, pod.Status.InitContainerStatuses))
	}
	for _, c := range pod.Spec.Containers {
		s.main = append(s.main, mk(c, false, pod.Status.ContainerStatuses))
	}
	return s
}

func randomContainerID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "docker://" + hex.EncodeToString(b)
}

// dockerImage is how dockershim reports a spec image: an implicit tag made
// explicit.
func dockerImage(image string) string {
	if strings.Contains(image, "@") {
		return image
	}
	last := image[strings.LastIndex(image, "/")+1:]
	if !strings.Contains(last, ":") {
		return image + ":latest"
	}
	return image
}

// dockerImageID fakes a stable digest per image name.
func dockerImageID(image string) string {
	repo := image
	if i := strings.Index(repo, "@"); i >= 0 {
		return "docker-pullable://" + repo
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	sum := sha256.Sum256([]byte(image))
	return "docker-pullable://" + repo + "@sha256:" + hex.EncodeToString(sum[:])
}

func specContainer(pod *v1.Pod, name string, isInit bool) *v1.Container {
	list := pod.Spec.Containers
	if isInit {
		list = pod.Spec.InitContainers
	}
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// eventSink receives container lifecycle events; implemented in events.go.
type eventSink interface {
	containerEvent(pod *v1.Pod, c *ctrSim, warning bool, fault bool, reason, msg string)
}

// stepper bundles what a transition needs.
type stepper struct {
	pod    *v1.Pod
	t      timing
	now    time.Time
	ev     eventSink
	faults faultSet
	ips    *ipAllocator
}

// step advances the pod by at most one transition per container and reports
// whether anything changed. Init containers run strictly one after another;
// when one completes, the next starts in the same update, as in the kubelet.
func (s *podSim) step(x *stepper) bool {
	changed := false
	if s.podIP == "" {
		if x.now.Before(s.sandboxAt) {
			return false
		}
		s.podIP = x.ips.allocate(x.pod)
		changed = true
	}
	for _, c := range s.init {
		if c.succeeded() {
			continue
		}
		mode := x.faults.modeFor(c.name, true)
		if !s.due(c, mode, x.now) {
			return changed
		}
		changed = s.advance(c, mode, x) || changed
		if !c.succeeded() {
			return changed
		}
	}
	for _, c := range s.main {
		mode := x.faults.modeFor(c.name, false)
		if s.due(c, mode, x.now) {
			changed = s.advance(c, mode, x) || changed
		}
	}
	return changed
}

// due tells whether c may transition now. A container backing off from a
// fault that has since been removed restarts at once rather than sitting out
// the back-off, so tests see recovery promptly.
func (s *podSim) due(c *ctrSim, mode faultMode, now time.Time) bool {
	if !now.Before(c.nextAt) {
		return true
	}
	return c.waitingReason() == reasonCrashLoopBackOff && !mode.crashes(c.init)
}

// advance performs one transition of one container.
func (s *podSim) advance(c *ctrSim, mode faultMode, x *stepper) bool {
	spec := specContainer(x.pod, c.name, c.init)
	image := ""
	if spec != nil {
		image = spec.Image
	}
	st := &c.st
	switch {
	case st.State.Running != nil:
		switch {
		case c.init && mode == faultInitHang:
			c.nextAt = time.Time{} // hangs until the fault goes away
			return false
		case mode.crashes(c.init):
			s.crash(c, mode, x)
			return true
		case mode == faultImagePull:
			// Treat it as the container being replaced by one whose image
			// cannot be pulled.
			s.kill(c, x, 137, "Error")
			s.pullFailed(c, image, x)
			return true
		case image != "" && dockerImage(image) != st.Image:
			// Only the image of a container can change; the kubelet
			// restarts the container with the new one.
			s.kill(c, x, 0, "Completed")
			s.start(c, image, mode, x)
			return true
		case c.init:
			s.kill(c, x, 0, "Completed")
			return true
		case x.pod.Spec.RestartPolicy != v1.RestartPolicyAlways && x.t.complete > 0:
			// Job-like pods do their work and exit.
			end := st.State.Running.StartedAt.Add(x.t.complete)
			if x.now.Before(end) {
				c.nextAt = end
				return false
			}
			s.kill(c, x, 0, "Completed")
			st.State.Terminated.Message = completionMessage(x.pod, c.name)
			return true
		}
		return false
	case st.State.Terminated != nil:
		if x.pod.Spec.RestartPolicy == v1.RestartPolicyNever ||
			(x.pod.Spec.RestartPolicy == v1.RestartPolicyOnFailure && st.State.Terminated.ExitCode == 0) {
			return false
		}
		if mode == faultImagePull {
			s.pullFailed(c, image, x)
			return true
		}
		s.start(c, image, mode, x)
		return true
	default: // waiting
		if mode == faultImagePull {
			if c.waitingReason() == reasonImagePullBackOff {
				return false
			}
			s.pullFailed(c, image, x)
			return true
		}
		s.start(c, image, mode, x)
		return true
	}
}

// start runs a new instance of the container. restartCount counts instances
// after the first, so it only grows once the container has run before.
func (s *podSim) start(c *ctrSim, image string, mode faultMode, x *stepper) {
	st := &c.st
	if st.ContainerID != "" {
		st.RestartCount++
		if st.State.Terminated != nil {
			st.LastTerminationState = v1.ContainerState{Terminated: st.State.Terminated}
		}
	}
	if image == "" {
		image = st.Image
	}
	st.Image = dockerImage(image)
	st.ImageID = dockerImageID(st.Image)
	st.ContainerID = randomContainerID()
	st.State = v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: metav1.NewTime(x.now.Truncate(time.Second))}}
	c.nextAt = time.Time{}
	if c.init || mode.crashes(c.init) {
		c.nextAt = x.now.Add(x.t.step) // runs for one step, then completes or crashes
	}
	x.ev.containerEvent(x.pod, c, false, false, "Pulled", fmt.Sprintf("Container image %q already present on machine", image))
	x.ev.containerEvent(x.pod, c, false, false, "Created", "Created container "+c.name)
	x.ev.containerEvent(x.pod, c, false, false, "Started", "Started container "+c.name)
}

// kill moves a running container to terminated.
func (s *podSim) kill(c *ctrSim, x *stepper, exitCode int32, reason string) {
	st := &c.st
	startedAt := metav1.NewTime(x.now.Truncate(time.Second))
	if st.State.Running != nil {
		startedAt = st.State.Running.StartedAt
	}
	st.State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
		ExitCode: exitCode, Reason: reason, StartedAt: startedAt,
		FinishedAt: metav1.NewTime(x.now.Truncate(time.Second)), ContainerID: st.ContainerID,
	}}
	c.nextAt = x.now.Add(x.t.step)
}

// crash ends a running container the way the fault says. The very first
// crash is shown as a plain terminated state (the kubelet restarts without
// back-off the first time); later ones go through CrashLoopBackOff with the
// crash recorded in lastState.
func (s *podSim) crash(c *ctrSim, mode faultMode, x *stepper) {
	exitCode, reason := int32(1), "Error"
	if mode == faultOOMKilled {
		exitCode, reason = 137, "OOMKilled"
	}
	first := c.st.RestartCount == 0 && c.st.LastTerminationState.Terminated == nil
	s.kill(c, x, exitCode, reason)
	c.st.State.Terminated.Message = terminationMessage(x.pod, specContainer(x.pod, c.name, c.init))
	if first || x.pod.Spec.RestartPolicy == v1.RestartPolicyNever {
		return
	}
	c.st.LastTerminationState = v1.ContainerState{Terminated: c.st.State.Terminated}
	c.st.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{
		Reason: reasonCrashLoopBackOff,
		Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
			x.t.restart, c.name, x.pod.Name, x.pod.Namespace, x.pod.UID),
	}}
	c.nextAt = x.now.Add(x.t.restart)
	x.ev.containerEvent(x.pod, c, true, true, "BackOff", "Back-off restarting failed container")
}

// logAnnotation on a pod stands for what its containers print: the log a
// real kubelet would read a failed container's termination message from.
const logAnnotation = "kubelet-sim.catalyst.dev/log"

// The kubelet's cut of a log tail used as a termination message
// (kubecontainer.MaxContainerTerminationMessageLogLines/Length).
const (
	maxTerminationLogLines = 80
	maxTerminationLogBytes = 2048
)

// terminationMessage is what a crashed container reports: with
// terminationMessagePolicy FallbackToLogsOnError (and nothing written to its
// termination-log file, which the simulator has none of), the last 80 lines
// of its log, at most 2048 bytes; with the default policy File, nothing.
func terminationMessage(pod *v1.Pod, spec *v1.Container) string {
	log := pod.Annotations[logAnnotation]
	if log == "" || spec == nil || spec.TerminationMessagePolicy != v1.TerminationMessageFallbackToLogsOnError {
		return ""
	}
	lines := strings.SplitAfter(strings.TrimSuffix(log, "\n"), "\n")
	if len(lines) > maxTerminationLogLines {
		log = strings.Join(lines[len(lines)-maxTerminationLogLines:], "")
		if strings.HasSuffix(pod.Annotations[logAnnotation], "\n") {
			log += "\n"
		}
	}
	if len(log) > maxTerminationLogBytes {
		// Bytes, as the kubelet cuts them: possibly inside a character.
		log = log[len(log)-maxTerminationLogBytes:]
	}
	return log
}

// completionMessage stands for what a Job's container writes to its
// termination-log file when it finishes: an image builder's pushed digest.
// The simulator makes one up, "sha256:" and the SHA-256 of the pod's
// namespace, Job (label job-name, else the pod's name) and container, so a
// Job's every pod reports the same digest.
func completionMessage(pod *v1.Pod, container string) string {
	job := pod.Labels["job-name"]
	if job == "" {
		job = pod.Name
	}
	sum := sha256.Sum256([]byte(pod.Namespace + "/" + job + "/" + container))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pullFailed shows ErrImagePull first, then settles on ImagePullBackOff.
func (s *podSim) pullFailed(c *ctrSim, image string, x *stepper) {
	st := &c.st
	if image != "" {
		st.Image = image // a never-pulled image is reported as written in the spec
	}
	st.ImageID = ""
	if st.State.Terminated != nil {
		st.LastTerminationState = v1.ContainerState{Terminated: st.State.Terminated}
	}
	if c.waitingReason() == reasonErrImagePull {
		st.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{
			Reason: reasonImagePullBackOff, Message: fmt.Sprintf("Back-off pulling image %q", image)}}
		c.nextAt = time.Time{}
		x.ev.containerEvent(x.pod, c, false, true, "BackOff", fmt.Sprintf("Back-off pulling image %q", image))
		x.ev.containerEvent(x.pod, c, true, true, "Failed", "Error: "+reasonImagePullBackOff)
		return
	}
	repo := image
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	errMsg := fmt.Sprintf("rpc error: code = Unknown desc = Error response from daemon: pull access denied for %s, repository does not exist or may require 'docker login': denied: requested access to the resource is denied", repo)
	st.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reasonErrImagePull, Message: errMsg}}
	c.nextAt = x.now.Add(x.t.step)
	x.ev.containerEvent(x.pod, c, false, true, "Pulling", fmt.Sprintf("Pulling image %q", image))
	x.ev.containerEvent(x.pod, c, true, true, "Failed", fmt.Sprintf("Failed to pull image %q: %s", image, errMsg))
	x.ev.containerEvent(x.pod, c, true, true, "Failed", "Error: "+reasonErrImagePull)
}

// terminateAll stops every running container, as the kubelet does before it
// removes a deleted pod.
func (s *podSim) terminateAll(x *stepper) {
	for _, c := range append(append([]*ctrSim{}, s.init...), s.main...) {
		if c.st.State.Running != nil {
			x.ev.containerEvent(x.pod, c, false, false, "Killing", "Stopping container "+c.name)
			s.kill(c, x, 0, "Completed")
		}
	}
}

// nextWake returns the earliest transition scheduled after now, or zero if
// none. Times already past belong to containers that cannot move (e.g. a
// container of a restartPolicy=Never pod that crashed).
func (s *podSim) nextWake(now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if s.podIP == "" {
		consider(s.sandboxAt)
	}
	for _, c := range s.init {
		if !c.succeeded() {
			consider(c.nextAt)
			break // later init containers wait for this one
		}
	}
	for _, c := range s.main {
		consider(c.nextAt)
	}
	return next
}

// render builds the status to write, starting from the current one so that
// fields the kubelet does not own (qosClass, nominatedNodeName, foreign
// conditions) survive.
func (s *podSim) render(pod *v1.Pod, faults faultSet, now time.Time, deleting bool) v1.PodStatus {
	status := *pod.Status.DeepCopy()
	status.HostIP = nodeIP
	if s.podIP != "" {
		status.PodIP = s.podIP
		status.PodIPs = []v1.PodIP{{IP: s.podIP}}
	} else {
		status.PodIP = ""
		status.PodIPs = nil
	}
	st := s.startTime
	status.StartTime = &st

	initStatuses := make([]v1.ContainerStatus, 0, len(s.init))
	for _, c := range s.init {
		cs := *c.st.DeepCopy()
		cs.Name = c.name
		// Init containers are "ready" once they completed successfully.
		cs.Ready = c.succeeded()
		cs.Started = nil
		initStatuses = append(initStatuses, cs)
	}
	statuses := make([]v1.ContainerStatus, 0, len(s.main))
	for _, c := range s.main {
		cs := *c.st.DeepCopy()
		cs.Name = c.name
		running := cs.State.Running != nil
		mode := faults.modeFor(c.name, false)
		// A container about to crash never passes readiness, so the pod
		// does not flap Ready while it crash-loops.
		cs.Ready = running && !deleting && mode != faultUnready && !mode.crashes(false)
		started := running
		cs.Started = &started
		statuses = append(statuses, cs)
	}
	// The kubelet keeps init statuses in spec order but sorts the others by name.
	sort.Slice(statuses, func(i, j int) bool { return statuses[i].Name < statuses[j].Name })
	if len(pod.Spec.InitContainers) == 0 {
		initStatuses = nil
	}
	status.InitContainerStatuses = initStatuses
	status.ContainerStatuses = statuses

	all := append(append([]v1.ContainerStatus{}, statuses...), initStatuses...)
	status.Phase = getPhase(&pod.Spec, all)
	status.Conditions = buildConditions(pod, initStatuses, statuses, status.Phase, metav1.NewTime(now.Truncate(time.Second)))
	return status
}

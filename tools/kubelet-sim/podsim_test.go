package main

// Offline tests of the container state machine: they drive a podSim with a
// fake clock, feeding each rendered status back into the pod as the API
// server would, and check the statuses the fault modes are documented to
// produce. Run inside the Kubernetes tree like the build:
//   GO111MODULE=off GOPATH=... go test ./cmd/kubelet-sim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type noEvents struct{}

func (noEvents) containerEvent(*v1.Pod, *ctrSim, bool, bool, string, string) {}

type harness struct {
	t     *testing.T
	pod   *v1.Pod
	sim   *podSim
	now   time.Time
	tm    timing
	ips   *ipAllocator
	fault string
}

func newHarness(t *testing.T, initNames []string, fault string) *harness {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "uid-1"},
		Spec: v1.PodSpec{
			NodeName:      "sim-node",
			RestartPolicy: v1.RestartPolicyAlways,
			Containers:    []v1.Container{{Name: "app", Image: "nginx:1.19"}, {Name: "sidecar", Image: "busybox"}},
		},
		Status: v1.PodStatus{Phase: v1.PodPending, QOSClass: v1.PodQOSBestEffort},
	}
	for _, n := range initNames {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, v1.Container{Name: n, Image: "busybox:1.32"})
	}
	ips, _ := newIPAllocator("10.244.0.0/16")
	tm := timing{step: 200 * time.Millisecond, restart: 5 * time.Second, complete: 2 * time.Second}
	now := time.Date(2021, 1, 13, 12, 0, 0, 0, time.UTC)
	return &harness{t: t, pod: pod, sim: newPodSim(pod, now, tm), now: now, tm: tm, ips: ips, fault: fault}
}

func (h *harness) faults() faultSet {
	f, err := parseFaults(h.fault)
	if err != nil {
		h.t.Fatal(err)
	}
	return f
}

// run advances the fake clock by d, syncing whenever a transition is due.
func (h *harness) run(d time.Duration) {
	end := h.now.Add(d)
	for {
		x := &stepper{pod: h.pod, t: h.tm, now: h.now, ev: noEvents{}, faults: h.faults(), ips: h.ips}
		h.sim.step(x)
		h.pod.Status = h.sim.render(h.pod, x.faults, h.now, false)
		next := h.sim.nextWake(h.now)
		if next.IsZero() || next.After(end) {
			h.now = end
			return
		}
		h.now = next
	}
}

func (h *harness) cond(t v1.PodConditionType) v1.PodCondition {
	for _, c := range h.pod.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	h.t.Fatalf("no %s condition", t)
	return v1.PodCondition{}
}

func (h *harness) ctr(name string) v1.ContainerStatus {
	if cs, ok := findStatus(append(append([]v1.ContainerStatus{}, h.pod.Status.ContainerStatuses...), h.pod.Status.InitContainerStatuses...), name); ok {
		return cs
	}
	h.t.Fatalf("no status for container %s", name)
	return v1.ContainerStatus{}
}

func TestHealthyPodWithInitContainers(t *testing.T) {
	h := newHarness(t, []string{"i1", "i2"}, "")
	h.run(0)
	if h.pod.Status.Phase != v1.PodPending || h.pod.Status.PodIP != "" || h.ctr("i1").State.Waiting.Reason != reasonPodInitializing {
		t.Fatalf("initial status wrong: %+v", h.pod.Status)
	}
	h.run(200 * time.Millisecond)
	if h.ctr("i1").State.Running == nil || h.pod.Status.PodIP != "10.244.0.2" {
		t.Fatalf("i1 should run with an IP: %+v", h.pod.Status)
	}
	h.run(200 * time.Millisecond)
	if h.ctr("i1").State.Terminated == nil || !h.ctr("i1").Ready || h.ctr("i2").State.Running == nil {
		t.Fatalf("i1 should be done and i2 running: %+v", h.pod.Status.InitContainerStatuses)
	}
	h.run(time.Second)
	s := h.pod.Status
	if s.Phase != v1.PodRunning || h.cond(v1.PodReady).Status != v1.ConditionTrue ||
		h.cond(v1.PodInitialized).Status != v1.ConditionTrue || h.cond(v1.ContainersReady).Status != v1.ConditionTrue ||
		h.cond(v1.PodScheduled).Status != v1.ConditionTrue {
		t.Fatalf("pod should be running and ready: %+v", s)
	}
	app := h.ctr("app")
	if !app.Ready || app.Started == nil || !*app.Started || app.Image != "nginx:1.19" ||
		!strings.HasPrefix(app.ImageID, "docker-pullable://nginx@sha256:") || !strings.HasPrefix(app.ContainerID, "docker://") {
		t.Fatalf("app status wrong: %+v", app)
	}
	if h.ctr("sidecar").Image != "busybox:latest" {
		t.Fatalf("implicit tag should be explicit: %q", h.ctr("sidecar").Image)
	}
	if s.ContainerStatuses[0].Name != "app" || s.InitContainerStatuses[0].Name != "i1" || s.QOSClass != v1.PodQOSBestEffort {
		t.Fatalf("order or preserved fields wrong: %+v", s)
	}
}

func TestCrashModesAndRecovery(t *testing.T) {
	for _, tc := range []struct {
		mode, reason string
		code         int32
	}{{"oomkilled", "OOMKilled", 137}, {"crashloop", "Error", 1}} {
		h := newHarness(t, nil, "app="+tc.mode)
		h.run(time.Second)
		app := h.ctr("app")
		if app.State.Waiting == nil || app.State.Waiting.Reason != reasonCrashLoopBackOff || app.Ready ||
			app.LastTerminationState.Terminated == nil || app.LastTerminationState.Terminated.Reason != tc.reason ||
			app.LastTerminationState.Terminated.ExitCode != tc.code || app.RestartCount != 1 {
			t.Fatalf("%s: %+v", tc.mode, app)
		}
		if h.pod.Status.Phase != v1.PodRunning || h.cond(v1.PodReady).Status != v1.ConditionFalse ||
			h.cond(v1.ContainersReady).Reason != reasonContainersNotReady ||
			h.cond(v1.ContainersReady).Message != "containers with unready status: [app]" {
			t.Fatalf("%s pod status: %+v", tc.mode, h.pod.Status)
		}
		h.run(30 * time.Second)
		if rc := h.ctr("app").RestartCount; rc < 5 {
			t.Fatalf("%s: restartCount should grow, got %d", tc.mode, rc)
		}
		before := h.ctr("app").RestartCount
		h.fault = ""
		h.run(time.Second)
		app = h.ctr("app")
		if app.State.Running == nil || !app.Ready || app.RestartCount != before+1 || h.cond(v1.PodReady).Status != v1.ConditionTrue {
			t.Fatalf("%s: should recover: %+v", tc.mode, app)
		}
	}
}

func TestCrashReportsTheLogTailAsTerminationMessage(t *testing.T) {
	var log strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&log, "line %d\n", i)
	}
	h := newHarness(t, nil, "app=crashloop,sidecar=crashloop")
	h.pod.Annotations = map[string]string{logAnnotation: log.String()}
	h.pod.Spec.Containers[0].TerminationMessagePolicy = v1.TerminationMessageFallbackToLogsOnError
	h.run(time.Second)
	got := h.ctr("app").LastTerminationState.Terminated
	if got == nil || !strings.HasPrefix(got.Message, "line 20\n") || !strings.HasSuffix(got.Message, "line 99\n") {
		t.Fatalf("want the last 80 lines: %+v", got)
	}
	// The default policy (File): the container wrote no termination-log file.
	if side := h.ctr("sidecar").LastTerminationState.Terminated; side == nil || side.Message != "" {
		t.Fatalf("sidecar: %+v", side)
	}
	h.pod.Annotations[logAnnotation] = strings.Repeat("é", 2000)
	h.run(10 * time.Second)
	if got = h.ctr("app").LastTerminationState.Terminated; len(got.Message) != 2048 {
		t.Fatalf("want the last 2048 bytes, got %d", len(got.Message))
	}
}

func TestImagePull(t *testing.T) {
	h := newHarness(t, nil, "app=imagepull")
	h.run(2 * time.Second)
	app := h.ctr("app")
	if app.State.Waiting == nil || app.State.Waiting.Reason != reasonImagePullBackOff ||
		app.State.Waiting.Message != `Back-off pulling image "nginx:1.19"` || app.ImageID != "" || app.ContainerID != "" {
		t.Fatalf("imagepull: %+v", app)
	}
	if h.pod.Status.Phase != v1.PodPending {
		t.Fatalf("phase %s", h.pod.Status.Phase)
	}
	h.fault = ""
	h.run(time.Second)
	if app = h.ctr("app"); app.State.Running == nil || !app.Ready || app.RestartCount != 0 {
		t.Fatalf("imagepull recovery: %+v", app)
	}
}

func TestInitHang(t *testing.T) {
	h := newHarness(t, []string{"i1", "i2"}, "i1=init-hang")
	h.run(10 * time.Second)
	if h.ctr("i1").State.Running == nil || h.ctr("i1").Ready || h.ctr("i2").State.Waiting.Reason != reasonPodInitializing ||
		h.ctr("app").State.Waiting.Reason != reasonPodInitializing {
		t.Fatalf("init-hang: %+v", h.pod.Status)
	}
	c := h.cond(v1.PodInitialized)
	if h.pod.Status.Phase != v1.PodPending || c.Status != v1.ConditionFalse || c.Reason != reasonContainersNotInitialized ||
		c.Message != "containers with incomplete status: [i1 i2]" {
		t.Fatalf("init-hang conditions: %+v", h.pod.Status)
	}
	h.fault = ""
	h.run(2 * time.Second)
	if h.pod.Status.Phase != v1.PodRunning || h.cond(v1.PodReady).Status != v1.ConditionTrue {
		t.Fatalf("init-hang recovery: %+v", h.pod.Status)
	}
}

func TestInitFail(t *testing.T) {
	h := newHarness(t, []string{"i1", "i2"}, "i2=init-fail")
	h.run(20 * time.Second)
	i2 := h.ctr("i2")
	if i2.State.Waiting == nil || i2.State.Waiting.Reason != reasonCrashLoopBackOff || i2.LastTerminationState.Terminated == nil ||
		i2.LastTerminationState.Terminated.ExitCode != 1 || i2.LastTerminationState.Terminated.Reason != "Error" || i2.RestartCount < 3 {
		t.Fatalf("init-fail: %+v", i2)
	}
	if h.pod.Status.Phase != v1.PodPending || h.cond(v1.PodInitialized).Message != "containers with incomplete status: [i2]" {
		t.Fatalf("init-fail pod: %+v", h.pod.Status)
	}
	h.fault = ""
	h.run(2 * time.Second)
	if h.pod.Status.Phase != v1.PodRunning || h.cond(v1.PodReady).Status != v1.ConditionTrue || !h.ctr("i2").Ready {
		t.Fatalf("init-fail recovery: %+v", h.pod.Status)
	}
}

func TestInitFailRestartNever(t *testing.T) {
	h := newHarness(t, []string{"i1"}, "i1=init-fail")
	h.pod.Spec.RestartPolicy = v1.RestartPolicyNever
	h.run(5 * time.Second)
	if h.pod.Status.Phase != v1.PodFailed || h.ctr("i1").State.Terminated == nil || h.ctr("i1").RestartCount != 0 {
		t.Fatalf("restartPolicy Never: %+v", h.pod.Status)
	}
}

func TestFaultParsing(t *testing.T) {
	f, err := parseFaults(" app = OOMKilled ,*=init-hang,bad,x=nope")
	if err == nil || f["app"] != faultOOMKilled || f["*"] != faultInitHang || len(f) != 2 {
		t.Fatalf("parse: %v %v", f, err)
	}
	if f.modeFor("app", false) != faultOOMKilled || f.modeFor("other", false) != faultNone || f.modeFor("i1", true) != faultInitHang {
		t.Fatal("modeFor")
	}
	g, _ := parseFaults("web=init-fail,*=none")
	if g.modeFor("web", false) != faultCrashLoop || g.modeFor("x", true) != faultNone {
		t.Fatal("normalisation")
	}
}

func TestAdoptExistingStatus(t *testing.T) {
	h := newHarness(t, []string{"i1"}, "app=crashloop")
	h.run(20 * time.Second)
	rc := h.ctr("app").RestartCount
	adopted := newPodSim(h.pod, h.now, h.tm)
	if adopted.podIP != h.pod.Status.PodIP || adopted.main[0].st.RestartCount != rc {
		t.Fatalf("adoption lost state")
	}
}

func TestJobPodsComplete(t *testing.T) {
	h := newHarness(t, []string{"i1"}, "")
	h.pod.Spec.RestartPolicy = v1.RestartPolicyNever
	h.run(time.Second)
	if h.pod.Status.Phase != v1.PodRunning {
		t.Fatalf("job pod should run first: %s", h.pod.Status.Phase)
	}
	h.run(5 * time.Second)
	app := h.ctr("app")
	if h.pod.Status.Phase != v1.PodSucceeded || app.State.Terminated == nil || app.State.Terminated.Reason != "Completed" ||
		h.cond(v1.PodReady).Reason != reasonPodCompleted || h.cond(v1.PodInitialized).Status != v1.ConditionTrue {
		t.Fatalf("job pod should succeed: %+v", h.pod.Status)
	}
	// Its termination message: a made-up digest, the same for every pod of one Job.
	digest := app.State.Terminated.Message
	if !strings.HasPrefix(digest, "sha256:") || len(digest) != 71 {
		t.Fatalf("a completed job container should report a digest, got %q", digest)
	}
	a, b := h.pod.DeepCopy(), h.pod.DeepCopy()
	a.Name, b.Name = "build-x-1", "build-x-2"
	a.Labels = map[string]string{"job-name": "build-x"}
	b.Labels = map[string]string{"job-name": "build-x"}
	if completionMessage(a, "app") != completionMessage(b, "app") {
		t.Fatalf("pods of one Job should report one digest")
	}
	b.Labels["job-name"] = "build-y"
	if completionMessage(a, "app") == completionMessage(b, "app") {
		t.Fatalf("another Job should report another digest")
	}

	h = newHarness(t, nil, "app=crashloop")
	h.pod.Spec.RestartPolicy = v1.RestartPolicyNever
	h.run(5 * time.Second)
	if h.pod.Status.Phase != v1.PodFailed || h.ctr("app").State.Terminated.ExitCode != 1 {
		t.Fatalf("failing job pod should fail: %+v", h.pod.Status)
	}

	h = newHarness(t, nil, "app=crashloop")
	h.pod.Spec.RestartPolicy = v1.RestartPolicyOnFailure
	h.run(20 * time.Second)
	if h.pod.Status.Phase != v1.PodRunning || h.ctr("app").State.Waiting == nil || h.ctr("app").RestartCount < 2 {
		t.Fatalf("OnFailure pod should crash-loop: %+v", h.pod.Status)
	}
}

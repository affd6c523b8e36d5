// kubelet-sim stands in for a kubelet (and a kube-scheduler) on a control
// plane that cannot run containers: it registers a Node, binds pending pods
// to it, and reports pod status the way a kubelet would, including
// injectable failures (see README.md).
//
// It is a Go module of its own (go.mod: client-go of the default Kubernetes
// lane, from the module proxy) and imports nothing but client-go, api,
// apimachinery and klog.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

type options struct {
	kubeconfig     string
	nodeName       string
	qps            float64
	burst          int
	faultsCM       string
	stepDelay      time.Duration
	restartBackoff time.Duration
	complete       time.Duration
	heartbeat      time.Duration
	workers        int
	podCIDR        string
	events         string
	resync         time.Duration
}

func parseFlags() *options {
	o := &options{}
	fs := flag.CommandLine
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "path to the kubeconfig of the cluster (required)")
	fs.StringVar(&o.nodeName, "node-name", "sim-node", "name of the simulated Node")
	fs.Float64Var(&o.qps, "qps", 500, "client-side QPS limit for API requests")
	fs.IntVar(&o.burst, "burst", 1000, "client-side burst for API requests")
	fs.StringVar(&o.faultsCM, "faults-configmap", "kube-system/kubelet-sim-faults",
		"namespace/name of the ConfigMap whose keys are namespaces and values fault specs (empty disables)")
	fs.DurationVar(&o.stepDelay, "step-delay", 200*time.Millisecond,
		"delay between visible container transitions (0: jump straight to the final state)")
	fs.DurationVar(&o.restartBackoff, "restart-backoff", 5*time.Second,
		"how long a crashing container stays in CrashLoopBackOff before its next restart")
	fs.DurationVar(&o.complete, "job-duration", 2*time.Second,
		"how long main containers of restartPolicy Never/OnFailure pods run before exiting 0 (0: forever)")
	fs.DurationVar(&o.heartbeat, "heartbeat", 10*time.Second, "node status and lease renewal interval")
	fs.IntVar(&o.workers, "workers", 16, "concurrent pod workers")
	fs.StringVar(&o.podCIDR, "pod-cidr", "10.244.0.0/16", "range pod IPs are taken from (never dialled)")
	fs.StringVar(&o.events, "events", string(eventsFaults), "which Events to emit: all, faults or none")
	fs.DurationVar(&o.resync, "resync", 5*time.Minute, "informer resync period (a safety net; 0 disables)")
	klog.InitFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s --kubeconfig FILE [flags]\n", os.Args[0])
		fs.PrintDefaults()
	}
	flag.Parse()
	if o.kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "--kubeconfig is required")
		fs.Usage()
		os.Exit(2)
	}
	if o.restartBackoff < 100*time.Millisecond {
		o.restartBackoff = 100 * time.Millisecond // a zero back-off would spin
	}
	if o.workers < 1 {
		o.workers = 1
	}
	return o
}

func main() {
	o := parseFlags()
	if err := run(o); err != nil {
		klog.Errorf("kubelet-sim: %v", err)
		klog.Flush()
		os.Exit(1)
	}
	klog.Flush()
}

func run(o *options) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS = float32(o.qps)
	cfg.Burst = o.burst
	cfg.UserAgent = "kubelet-sim/" + kubeletVersion
	// Protobuf halves the CPU the API server spends on thousands of pods.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}

	ips, err := newIPAllocator(o.podCIDR)
	if err != nil {
		return err
	}
	ev, err := newEventer(client, eventMode(o.events), o.nodeName)
	if err != nil {
		return err
	}
	defer ev.shutdown()

	// Informers: all pods (unscheduled ones are ours to bind), our node, and
	// the one faults ConfigMap.
	podFactory := informers.NewSharedInformerFactory(client, o.resync)
	podInformer := podFactory.Core().V1().Pods().Informer()

	nodeFactory := informers.NewSharedInformerFactoryWithOptions(client, o.resync,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("metadata.name", o.nodeName).String()
		}))
	nodeInformer := nodeFactory.Core().V1().Nodes()

	node := &nodeAgent{client: client, name: o.nodeName, heartbeat: o.heartbeat, lister: nodeInformer.Lister()}
	nodeInformer.Informer().AddEventHandler(node.taintHandler(ctx))

	faults := newFaultStore()
	var cmFactory informers.SharedInformerFactory
	if o.faultsCM != "" {
		parts := strings.SplitN(o.faultsCM, "/", 2)
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return fmt.Errorf("--faults-configmap: want namespace/name, got %q", o.faultsCM)
		}
		cmFactory = informers.NewSharedInformerFactoryWithOptions(client, o.resync,
			informers.WithNamespace(parts[0]),
			informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
				lo.FieldSelector = fields.OneTermEqualSelector("metadata.name", parts[1]).String()
			}))
		cmFactory.Core().V1().ConfigMaps().Informer().AddEventHandler(faults.configMapHandler())
	}

	pods := newPodController(client, node, podInformer, faults, ips, ev,
		timing{step: o.stepDelay, restart: o.restartBackoff, complete: o.complete})

	nodeInformer.Informer().AddEventHandler(pods.nodeLabelsHandler())

	klog.Infof("kubelet-sim %s starting: node %s, step delay %v, restart back-off %v, faults ConfigMap %q",
		kubeletVersion, o.nodeName, o.stepDelay, o.restartBackoff, o.faultsCM)
	if err := node.register(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	nodeFactory.Start(ctx.Done())
	podFactory.Start(ctx.Done())
	if cmFactory != nil {
		cmFactory.Start(ctx.Done())
	}
	synced := []cache.InformerSynced{podInformer.HasSynced, nodeInformer.Informer().HasSynced}
	if cmFactory != nil {
		synced = append(synced, cmFactory.Core().V1().ConfigMaps().Informer().HasSynced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		klog.Info("stopped before caches synced")
		return nil
	}
	klog.Infof("caches synced; simulating node %s", o.nodeName)

	go node.run(ctx)
	pods.run(ctx, o.workers) // returns once ctx is cancelled and workers drained
	klog.Info("kubelet-sim stopped")
	return nil
}

// Compile-time check that the eventer satisfies what the simulation needs.
var _ eventSink = (*eventer)(nil)

// Compose: a Project template of `type: docker-compose` converted to
// Kubernetes manifests by the operator itself (not kompose: docs/development.md,
// "Deployment templates", says why). The output is a manifest stream for
// ConfineRendered (rendered.h), exactly like a rendered Helm chart.
//
// The compose file is hostile input. What is converted is a documented subset
// of the Compose Specification; everything else is refused, naming the
// service and the key, or (only where it is a hint that changes nothing the
// containers see) ignored. Nothing that changes behaviour is dropped silently.
//
// Parsing: YAML as yaml-cpp's event parser reads it, plus YAML 1.1 merge keys
// (`<<: *base`, `<<: [*a, *b]`: explicit keys win, an earlier merge over a
// later one). Scalars are taken as written (`1.10` stays "1.10"); duplicate
// keys and control characters other than tab, newline and carriage return are
// refused. Bounds (ResourceExhausted, naming the bound): 256 KiB of input,
// 100k values and 4 MiB of text once aliases are expanded (each alias counts
// what it repeats: an alias bomb stops early), 64 levels of nesting, one YAML
// document; per container 1000 environment entries, 64 volume mounts, 64
// ports (and expose); the output within ConfineRendered's default bounds.
// Messages do not name the file (the caller prefixes them with it).
//
// Interpolation (compose reads ${VAR} from the host environment; the operator
// has none): `$$` is a literal `$`; `${VAR:-default}` and `${VAR-default}`
// are the default (nested interpolation in it is applied); `${VAR:+alt}` and
// `${VAR+alt}` are empty; `${VAR}`, `$VAR`, `${VAR:?msg}` and a lone `$` are
// refused. Applied to every value the conversion reads, never to keys.
//
// Top level: `services` (required, a mapping of 1..32 services). `version`,
// `name`, `networks`, `configs`, `secrets`, `models` and `x-*` are ignored
// (a service that references configs, secrets or models is refused).
// `volumes` declares named volumes (a service's named volume must be
// declared; `external: true` is refused). `include` and any other key are
// refused.
//
// A service with `profiles` is not converted, nor its keys read (as `docker
// compose up` without --profile starts it not). Each other service `s`
// becomes a Deployment `s` (apps/v1, strategy Recreate, one container `s`,
// selector and pod label app.kubernetes.io/name: s, enableServiceLinks:
// false, automountServiceAccountToken: false, allowPrivilegeEscalation:
// false; imagePullSecrets registry-credentials with pull_secret), or a Job
// when it is a one-shot (`restart` below), and a headless Service `s`
// (clusterIP: None, selecting its pods; ports: the container's ports,
// port = targetPort, named p<port>, p<port>-udp, p<port>-sctp; none without
// ports), as on a compose network every service resolves by its name and
// every port of it is reachable. The service name is lowercased and `_`
// becomes `-`; it must then be a DNS-1035 label, unique among the services.
// A name so changed (`my_db` -> `my-db`) is what resolves: hosts written
// `my_db` in the containers' settings do not (`_` is not valid in a DNS label).
//
// Service keys converted:
//   image            the image; with `build:` the template's build of the
//                    service's name wins (built_images), else `image`; `build`
//                    without a built image and without `image` is refused.
//   build            any form; only its presence is read (the template's
//                    builds say how to build).
//   entrypoint       container `command`; command -> `args`. A list, or a
//                    string split into words as a POSIX shell would (quotes,
//                    backslashes) but without one: an unquoted | & ; < > ( )
//                    ` or a newline is refused (write ["sh", "-c", "..."]).
//                    `entrypoint: []` with a command runs the command alone.
//   environment      mapping (scalars as written) or list of KEY=VALUE; a key
//                    without a value (KEY, `KEY:`) is refused: compose would
//                    read it from the host. In env values, command and args
//                    each literal `$` (after interpolation) is written `$$`,
//                    so Kubernetes' $(VAR) expansion leaves it as it is.
//   ports            short "80", "8080:80", "127.0.0.1:8080:80",
//                    "[::1]:8080:80", ".../udp" (host address ignored) and
//                    long {target, published, protocol, host_ip, mode, name,
//                    app_protocol} (the last four ignored); ranges refused.
//                    containerPort = Service port = targetPort = target (the
//                    published host port has no meaning in the namespace:
//                    "5433:5432" is reached at s:5432). `expose` adds ports.
//   working_dir, user (numeric "uid[:gid]" only), hostname, tty, stdin_open,
//   read_only (readOnlyRootFilesystem), cap_drop (capabilities.drop),
//   privileged: false, cap_add: [],
//   stop_grace_period (terminationGracePeriodSeconds; a Go duration),
//   deploy.replicas / scale (0..10, default 1),
//   deploy.resources.{limits,reservations}.{cpus,memory}, cpus, mem_limit,
//   mem_reservation: the namespace's quota needs requests.cpu,
//                    requests.memory and limits.memory on every container.
//                    cpu limit = the limit, else default_cpu_limit (if set);
//                    cpu request = min(reservation or 100m, cpu limit);
//                    memory limit = limit, else max(512Mi, reservation);
//                    memory request = reservation, else the limit. Memory is
//                    compose's byte syntax ("512m", "1.5gb", bytes), rounded
//                    up to Mi; cpus a decimal ("0.5" -> 500m).
//   volumes          a named or anonymous volume ("data:/var/lib/x[:ro]",
//                    "/x", long type: volume) is an emptyDir: NOT persistent,
//                    empty at each pod start (docker copies the image's
//                    files into a new named volume; Kubernetes does not), of
//                    sizeLimit volume_size_limit, and
//                    a named volume mounted by two services is refused (each
//                    pod would get its own). tmpfs (long type: tmpfs, its
//                    size the sizeLimit; or the `tmpfs` key, its options
//                    ignored) is an emptyDir of medium Memory. Bind mounts
//                    (./x, /host, ~) are refused: they are the host's files.
//   shm_size         an emptyDir of medium Memory at /dev/shm.
//   restart          absent, always, unless-stopped: a Deployment. "no" or
//                    on-failure[:N] (and deploy.restart_policy.condition none
//                    or on-failure, max_attempts N; it replaces `restart`): a
//                    one-shot, a batch/v1 Job `s-<8 hex of a hash of its
//                    spec>` (a Job's pod template cannot change: a new image
//                    is a new Job), the same pod with restartPolicy Never
//                    (backoffLimit 0) or OnFailure (backoffLimit N, else 6),
//                    no ttlSecondsAfterFinished; replicas other than 1 refused.
//   container_name   a DNS-1035 label (lowercased) other than the service's
//                    name: a second headless Service of that name, the same
//                    pods (others often connect by it); any other value is
//                    only a name for the docker CLI, ignored.
//   links            an entry must name a converted service; an alias
//                    ("db:database") is a headless Service `database` for
//                    db's pods.
//   networks         one network (the namespace); each alias is a headless
//                    Service of that name for the service's pods.
//                    Aliases must be DNS-1035 labels (lowercased). An extra
//                    name that is a service's, or another's for other pods,
//                    is refused, naming both.
// Ignored (hints; or what Kubernetes does its own way): depends_on (pods
// start in any order: the containers must wait for what they need),
// healthcheck, labels, annotations, logging, pull_policy, platform, init,
// stop_signal, develop, attach, x-*; and in deploy: mode: replicated,
// restart_policy's delay and window, labels, placement, update_config,
// rollback_config, endpoint_mode.
// Refused, naming the key: privileged: true, cap_add, network_mode, pid, ipc,
// uts, userns_mode, cgroup, cgroup_parent, devices, device_cgroup_rules,
// security_opt, sysctls, extra_hosts, dns, dns_opt, dns_search, domainname,
// external_links, ulimits, runtime, isolation, gpus, oom_kill_disable,
// oom_score_adj, storage_opt, blkio_config, cpu_count, cpu_percent, cpu_shares,
// cpu_period, cpu_quota, cpu_rt_runtime, cpu_rt_period, cpuset,
// mem_swappiness, memswap_limit, pids_limit, group_add, credential_spec,
// mac_address, volumes_from, use_api_socket, provider, post_start, pre_stop,
// env_file, label_file, configs, secrets, models, extends, and every key not
// listed here.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace controllers {

struct ComposeInput {
  absl::string_view yaml;  // the compose file's text (hostile input: bounded)
  std::string source;      // the file, "compose.yaml": the caller's messages name it
  // The images the template's builds made, by build name
  // ("repo@sha256:..."): a service with `build:` runs the one of its name.
  std::map<std::string, std::string> built_images;
  // The namespace's quota has limits.cpu (the Project's defaultQuota.cpu):
  // every container needs a CPU limit; this one where the file sets none.
  // Empty: no CPU limit is required.
  std::string default_cpu_limit;
  // The environment namespace has the Project's pull credentials: every pod
  // names Secret registry-credentials in imagePullSecrets.
  bool pull_secret = false;
  // sizeLimit of every disk emptyDir (named and anonymous volumes).
  std::string volume_size_limit = "1Gi";
};

// "---"-separated JSON documents (valid YAML) of Deployments, Jobs and
// Services, in the order of the services (each service's workload, its
// Service, then its extra Services), for ConfineRendered. InvalidArgument
// names the service and the key (not the file); ResourceExhausted: a bound.
absl::StatusOr<std::string> ConvertCompose(const ComposeInput& in);

}  // namespace controllers

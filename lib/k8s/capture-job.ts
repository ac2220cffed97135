/**
 * The capture Job, built by a pure function from validated parameters (after microsoft/retina's
 * `pkg/capture/crd_to_job.go`: one Job per node, labels derived from the capture's identity, deadline = duration +
 * overhead, an explicit env-var contract with the workload).
 *
 * Nothing in the spec is free text from a request: the investigation id is validated as a label value and only ever
 * hashed into the Job's name; the node name is validated as a DNS-1123 subdomain; the image and pull secret come from
 * the responder's settings and are validated too; the script is a constant and its parameters are integers.
 */
import { createHash } from 'node:crypto';
import type { V1Job } from '@kubernetes/client-node';
import { CAPTURE_SCRIPT, captureEnv } from './capture-script.js';
import type { CaptureParams } from './capture-script.js';
import { invalidValue } from './errors.js';
import { checkLabel, checkSubdomain, isLabelValue, quoteValue } from './names.js';

/**
 * Azure Linux 3.0 busybox from Microsoft's registry (~5 MB). The container itself only needs a POSIX sh with nsenter,
 * stat, sort, head, tail, wc, cat, tr, date and mktemp: the tracer and its helpers (timeout, stdbuf, env, bcc or
 * libbpf-tools) are the node's own, run inside the node's mount namespace. A busybox image is what AKS' own node
 * debugging guidance and microsoft/retina use; it is small, so pulling it on a node in trouble is quick, and it comes
 * from MCR, which AKS clusters with restricted egress are required to reach anyway.
 * Not verified here (no registry access): that this build enables every applet listed above; check once with
 * `kubectl run t --rm -it --restart=Never --image=<image> -- sh -c 'nsenter --help; stat --help; mktemp --help'`.
 */
export const DEFAULT_CAPTURE_IMAGE = 'mcr.microsoft.com/azurelinux/busybox:1.36';
export const DEFAULT_CAPTURE_NAMESPACE = 'snat-responder-capture';
export const CAPTURE_CONTAINER = 'capture';
/** Scheduling, image pull, bcc's BPF compile (10-30 s on a busy node) and the census, on top of the window. */
export const DEFAULT_DEADLINE_MARGIN_SECONDS = 120;
/** Long enough for a slow responder to still read the log; the responder deletes the Job itself when done. */
export const DEFAULT_TTL_SECONDS_AFTER_FINISHED = 600;

export const LABELS = Object.freeze({
  name: 'app.kubernetes.io/name',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  investigation: 'snat-responder/investigation',
  /** On the pod template: selects the Job's pod without relying on the Job controller's own labels. */
  job: 'snat-responder/job',
});
export const ANNOTATIONS = Object.freeze({
  node: 'snat-responder/node',
  captureSeconds: 'snat-responder/capture-seconds',
});
/** Selects every capture Job of this responder (orphan sweep). */
export const CAPTURE_SELECTOR = `${LABELS.name}=snat-responder,${LABELS.component}=capture`;

export interface CaptureJobOptions extends Omit<CaptureParams, 'enterHostNamespaces'> {
  /** The investigation's id: 1-63 characters of a Kubernetes label value ([A-Za-z0-9], and -_. inside). */
  readonly investigationId: string;
  readonly nodeName: string;
  readonly image?: string;
  /** Name of a kubernetes.io/dockerconfigjson Secret in the capture namespace. */
  readonly pullSecret?: string;
  readonly namespace?: string;
  readonly deadlineMarginSeconds?: number;
  readonly ttlSecondsAfterFinished?: number;
  /** E.g. `system-node-critical`, so the capture is not the first pod evicted on a node under pressure. */
  readonly priorityClassName?: string;
}

/** registry[:port]/path[:tag][@sha256:digest], lower-case path; no whitespace or shell metacharacters. */
const IMAGE =
  /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

export function checkImage(image: string): string {
  if (typeof image !== 'string' || image.length > 512 || !IMAGE.test(image)) {
    throw invalidValue(
      `capture image ${quoteValue(image)} is not an image reference (registry/path[:tag][@sha256:...])`,
    );
  }
  return image;
}

export function checkInvestigationId(id: string): string {
  if (typeof id !== 'string' || id.length === 0 || !isLabelValue(id)) {
    throw invalidValue(
      `investigation id ${quoteValue(id)} must be 1-63 characters: letters, digits, and - _ . inside (a label value)`,
    );
  }
  return id;
}

/**
 * `snat-capture-<16 hex>`: a hash of the investigation id and the node, so the same investigation on the same node
 * always names the same Job (create is idempotent) and no id text ever reaches a name.
 */
export function captureJobName(investigationId: string, nodeName: string): string {
  checkInvestigationId(investigationId);
  checkSubdomain('node name', nodeName);
  const digest = createHash('sha256').update(`${investigationId}\n${nodeName}`).digest('hex');
  return `snat-capture-${digest.slice(0, 16)}`;
}

function checkSeconds(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidValue(`${field} must be an integer ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

/** The Job's deadline: the window plus the margin (what the orphan sweep and the lifecycle rely on). */
export function captureDeadlineSeconds(captureSeconds: number, margin = DEFAULT_DEADLINE_MARGIN_SECONDS): number {
  return captureSeconds + margin;
}

export function buildCaptureJob(options: CaptureJobOptions): V1Job {
  const investigationId = checkInvestigationId(options.investigationId);
  const nodeName = checkSubdomain('node name', options.nodeName);
  const namespace = checkLabel('capture namespace', options.namespace ?? DEFAULT_CAPTURE_NAMESPACE);
  const image = checkImage(options.image ?? DEFAULT_CAPTURE_IMAGE);
  const pullSecret = options.pullSecret === undefined ? undefined : checkSubdomain('pull secret', options.pullSecret);
  const priorityClassName =
    options.priorityClassName === undefined ? undefined : checkSubdomain('priority class', options.priorityClassName);
  // Never the test-only switch: the Job always enters the host's namespaces.
  const env = captureEnv({
    captureSeconds: options.captureSeconds,
    ...(options.maxLines !== undefined ? { maxLines: options.maxLines } : {}),
    ...(options.censusMaxLines !== undefined ? { censusMaxLines: options.censusMaxLines } : {}),
  });
  const margin = checkSeconds(
    'deadlineMarginSeconds',
    options.deadlineMarginSeconds ?? DEFAULT_DEADLINE_MARGIN_SECONDS,
    30,
    1800,
  );
  const ttl = checkSeconds(
    'ttlSecondsAfterFinished',
    options.ttlSecondsAfterFinished ?? DEFAULT_TTL_SECONDS_AFTER_FINISHED,
    0,
    86_400,
  );
  const name = captureJobName(investigationId, nodeName);
  const labels = {
    [LABELS.name]: 'snat-responder',
    [LABELS.component]: 'capture',
    [LABELS.managedBy]: 'snat-responder',
    [LABELS.investigation]: investigationId,
  };

  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace,
      labels,
      annotations: { [ANNOTATIONS.node]: nodeName, [ANNOTATIONS.captureSeconds]: String(options.captureSeconds) },
    },
    spec: {
      // One try: a second run would trace a different window, and a failure says more than a retry.
      backoffLimit: 0,
      completions: 1,
      parallelism: 1,
      activeDeadlineSeconds: captureDeadlineSeconds(options.captureSeconds, margin),
      ttlSecondsAfterFinished: ttl,
      template: {
        metadata: { labels: { ...labels, [LABELS.job]: name } },
        spec: {
          // Pinned to the node: no scheduler, no affinity that a full or cordoned node could defeat.
          nodeName,
          // Every taint, NoExecute included: the node under investigation may be tainted precisely because it is sick.
          tolerations: [{ operator: 'Exists' }],
          // The node's processes (netns map, /proc/<pid>/net/tcp of every pod) and its network namespace.
          hostPID: true,
          hostNetwork: true,
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 5,
          ...(priorityClassName ? { priorityClassName } : {}),
          ...(pullSecret ? { imagePullSecrets: [{ name: pullSecret }] } : {}),
          containers: [
            {
              name: CAPTURE_CONTAINER,
              image,
              imagePullPolicy: 'IfNotPresent',
              command: ['/bin/sh', '-c', CAPTURE_SCRIPT],
              env,
              // bcc compiles its BPF program with LLVM at start (a few hundred MB for a few seconds); the rest is tiny.
              resources: {
                requests: { cpu: '50m', memory: '64Mi' },
                limits: { cpu: '1', memory: '512Mi' },
              },
              /*
               * Privileged, deliberately. The smallest capability set that would do:
               * - CAP_BPF + CAP_PERFMON (kernel >= 5.8) to load BPF programs and attach kprobes, and CAP_SYS_ADMIN,
               *   which bcc still needs (it reads /sys/kernel/debug/tracing, and kernels before 5.8 have no CAP_BPF);
               *   CAP_SYS_ADMIN is also what setns(2) into another mount/PID namespace requires (nsenter -t 1);
               * - CAP_SYS_PTRACE to open /proc/<pid>/ns/net and /proc/<pid>/net/tcp of other users' processes
               *   (ptrace access mode checks) and to nsenter into PID 1;
               * - CAP_SYSLOG only to print real kernel pointers in /proc/net/tcp (not needed: the census reads
               *   addresses, ports and states); CAP_NET_ADMIN is not needed (nothing is changed on the network).
               * Privileged is used anyway because CAP_SYS_ADMIN + CAP_SYS_PTRACE + hostPID already amount to root on
               * the node, so dropping the rest buys no real isolation; and because the container runtime's default
               * seccomp and AppArmor profiles refuse bpf(2), perf_event_open(2) and setns(2) unless the pod is
               * privileged or the profiles are relaxed (Unconfined), which is the same trust with more moving parts.
               * The blast radius is kept small elsewhere: a dedicated namespace (the only one whose Pod Security
               * level allows this), no service account token, a constant script, integer parameters, a deadline.
               */
              securityContext: {
                privileged: true,
                runAsUser: 0,
                runAsNonRoot: false,
                allowPrivilegeEscalation: true,
                readOnlyRootFilesystem: true,
              },
              volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }],
            },
          ],
          // Scratch space for the script (tracer output before it is capped); bounded.
          volumes: [{ name: 'scratch', emptyDir: { sizeLimit: '64Mi' } }],
        },
      },
    },
  };
}

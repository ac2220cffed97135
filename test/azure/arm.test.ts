/**
 * ARM ids, the client factory, the error mapping and the ARM sim's wire behaviour (401 without a bearer token, ARM
 * error bodies, Retry-After).
 */
import { request } from 'node:https';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArmError, armClients, isArmError, isTransientArm, toArmError, withArmRetry } from '../../lib/azure/arm.js';
import {
  parseResourceId,
  requireType,
  resourceIdKey,
  resourceUri,
  sameResourceId,
} from '../../lib/azure/resource-id.js';
import { startArmSim } from '../../sim/arm.js';
import type { RunningArmSim } from '../../sim/arm.js';
import { stubCredential } from '../fixtures/azure/arm/stub-credential.js';

const SUB = '6c1f4a2e-8d3b-4f5a-9c7e-2b1d0e9f8a7c';
const LB_LOWER = `/subscriptions/${SUB}/resourcegroups/mc_rg-shop-prod_aks-shop-prod_westeurope/providers/microsoft.network/loadbalancers/kubernetes`;
const LB_ARM = `/subscriptions/${SUB}/resourceGroups/MC_rg-shop-prod_aks-shop-prod_westeurope/providers/Microsoft.Network/loadBalancers/kubernetes`;

describe('resource ids', () => {
  it('parses the parts, keeps the case, compares case-insensitively', () => {
    const id = parseResourceId(LB_ARM + '/');
    expect(id).toEqual({
      subscriptionId: SUB,
      resourceGroup: 'MC_rg-shop-prod_aks-shop-prod_westeurope',
      provider: 'Microsoft.Network',
      type: 'loadBalancers',
      name: 'kubernetes',
      id: LB_ARM,
    });
    expect(sameResourceId(LB_LOWER, LB_ARM)).toBe(true);
    expect(resourceIdKey(LB_ARM)).toBe(LB_LOWER);
    expect(resourceUri(parseResourceId(LB_LOWER))).toBe(LB_LOWER.slice(1));
    expect(parseResourceId(LB_LOWER.slice(1)).id).toBe(LB_LOWER);
    expect(
      parseResourceId(
        `/subscriptions/${SUB}/resourceGroups/MC_x/providers/Microsoft.Compute/virtualMachineScaleSets/aks-np1/virtualMachines/0`,
      ),
    ).toMatchObject({ type: 'virtualMachineScaleSets/virtualMachines', name: '0' });
  });

  it.each([
    ['', 'empty'],
    ['/subscriptions/abc/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb', 'not a GUID'],
    [`/subscriptions/${SUB}/providers/Microsoft.Network/loadBalancers/lb`, 'no /resourceGroups/'],
    [`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers`, '<type>/<name> pairs'],
    [`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/..`, 'resource name'],
    [`/subscriptions/${SUB}/resourceGroups/rg//providers/Microsoft.Network/loadBalancers/lb`, 'empty path segment'],
    [`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb?x=1`, 'resource name'],
    [`/subscriptions/${SUB}/resourceGroups/r g/providers/Microsoft.Network/loadBalancers/lb`, 'resource group'],
    [`https://management.azure.com/subscriptions/${SUB}`, 'does not start with /subscriptions/'],
  ])('rejects %j, naming the id (%s)', (raw, why) => {
    let error: unknown;
    try {
      parseResourceId(raw);
    } catch (e) {
      error = e;
    }
    expect(isArmError(error, 'invalid')).toBe(true);
    expect((error as Error).message).toContain(JSON.stringify(raw));
    expect((error as Error).message).toContain(why);
  });

  it('requireType checks provider/type case-insensitively', () => {
    expect(requireType(LB_LOWER, 'Microsoft.Network/loadBalancers').name).toBe('kubernetes');
    expect(() => requireType(LB_LOWER, 'Microsoft.ContainerService/managedClusters')).toThrow(
      /expected a Microsoft.ContainerService\/managedClusters id, got microsoft.network\/loadbalancers/,
    );
  });

  it('never throws anything but an invalid ArmError, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.constantFrom(LB_LOWER, LB_ARM).map((s) => s + '/x'),
        ),
        (raw) => {
          try {
            parseResourceId(raw);
          } catch (e) {
            return isArmError(e, 'invalid');
          }
          return true;
        },
      ),
    );
  });
});

describe('armClients', () => {
  it('refuses plain http, endpoints with paths, and subscriptions that are not GUIDs', () => {
    const credential = stubCredential();
    expect(() => armClients({ credential, subscriptionId: SUB, endpoint: 'http://127.0.0.1:1' })).toThrow(/only https/);
    expect(() => armClients({ credential, subscriptionId: SUB, endpoint: 'https://127.0.0.1:1/x' })).toThrow(/no path/);
    expect(() => armClients({ credential, subscriptionId: 'sub-1' })).toThrow(/"sub-1": not a GUID/);
    expect(() => armClients({ credential, subscriptionId: SUB, caPem: 'nope' })).toThrow(/not a PEM/);
    expect(armClients({ credential, subscriptionId: SUB }).endpoint).toBe('https://management.azure.com');
  });
});

describe('errors and retries', () => {
  it('classifies transient failures once', () => {
    expect(isTransientArm(new ArmError('throttled', 'x'))).toBe(true);
    expect(isTransientArm(new ArmError('forbidden', 'x'))).toBe(false);
    const rest = (statusCode: number) => Object.assign(new Error('x'), { name: 'RestError', statusCode });
    expect([429, 500, 503, 408, 501, 404, 403].map((s) => isTransientArm(rest(s)))).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(isTransientArm(Object.assign(new Error('x'), { name: 'RestError', code: 'ECONNRESET' }))).toBe(true);
    expect(toArmError(new Error('boom'), 'do it')).toMatchObject({ reason: 'unexpected', message: 'do it: boom' });
  });

  it('withArmRetry stops after its attempts and keeps the last error', async () => {
    let calls = 0;
    const e = Object.assign(new Error('x'), { name: 'RestError', statusCode: 503 });
    await expect(
      withArmRetry(
        'op',
        () => {
          calls++;
          return Promise.reject(e);
        },
        {
          attempts: 3,
          baseDelayMs: 1,
          maxDelayMs: 1,
          maxRetryAfterMs: 1,
          sleep: () => Promise.resolve(),
          random: () => 0,
        },
      ),
    ).rejects.toSatisfy((err) => isArmError(err, 'server') && err.message === 'op: HTTP 503');
    expect(calls).toBe(3);
  });
});

describe('the ARM sim on the wire', () => {
  let arm: RunningArmSim;
  beforeAll(async () => {
    arm = await startArmSim();
  });
  afterAll(() => arm.close());

  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: unknown }>((resolve, reject) => {
      const req = request(`${arm.url}${path}`, { ca: arm.caPem, headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end();
    });

  it('answers 401 with an ARM error body and WWW-Authenticate without a bearer token', async () => {
    const res = await get(
      `/subscriptions/${SUB}/providers/Microsoft.ContainerService/managedClusters?api-version=2026-04-01`,
    );
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(res.body).toMatchObject({ error: { code: 'AuthenticationFailed' } });
  });

  it('serves ARM error bodies for 404 and 429 (with Retry-After), and requires api-version', async () => {
    const auth = { authorization: 'Bearer x' };
    expect(
      await get(
        `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/nope?api-version=2026-04-01`,
        auth,
      ),
    ).toMatchObject({
      status: 404,
      body: { error: { code: 'ResourceNotFound' } },
    });
    arm.failNext(1, { status: 429, retryAfter: 5 });
    const throttled = await get(
      `/subscriptions/${SUB}/providers/Microsoft.ContainerService/managedClusters?api-version=2026-04-01`,
      auth,
    );
    expect(throttled).toMatchObject({ status: 429, body: { error: { code: 'TooManyRequests' } } });
    expect(throttled.headers['retry-after']).toBe('5');
    expect(await get(`/subscriptions/${SUB}/providers/Microsoft.ContainerService/managedClusters`, auth)).toMatchObject(
      {
        status: 400,
        body: { error: { code: 'MissingApiVersionParameter' } },
      },
    );
  });

  it('uses the default scenario cluster; lower-cased LB id is exposed as alerts send it', () => {
    expect(arm.ids).toEqual({
      subscriptionId: SUB,
      clusterId: `/subscriptions/${SUB}/resourcegroups/rg-shop-prod/providers/Microsoft.ContainerService/managedClusters/aks-shop-prod`,
      nodeResourceGroup: 'MC_rg-shop-prod_aks-shop-prod_westeurope',
      loadBalancerId: LB_LOWER,
    });
  });
});

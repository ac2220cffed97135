/**
 * The simulated AKS cluster: a loopback Kubernetes API server (REST JSON + exec WebSocket) over http or https,
 * answering from a scenario (sim/scenarios/*.json, documented in sim/README.md), with fault injection.
 *
 *   const sim = await startSim({ scenario: 'default', tls: true });
 *   const core = sim.kubeConfig().makeApiClient(CoreV1Api);
 *   ...
 *   await sim.close();
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { WebSocketServer } from 'ws';
import { handleRequest } from './api.js';
import type { ApiContext } from './api.js';
import { Cluster } from './cluster.js';
import { EXEC_PROTOCOLS, handleUpgrade } from './exec.js';
import { FaultState } from './faults.js';
import type { Faults } from './faults.js';
import { TLS_DIR } from './paths.js';
import { loadScenario, parseScenario } from './scenario.js';
import type { Scenario, ScenarioInput } from './scenario.js';
import { buildWorld } from './world.js';
import type { World } from './world.js';
import { listen } from '../lib/net.js';

export type { Faults } from './faults.js';
export type { Scenario, ScenarioInput } from './scenario.js';

/** The committed test certificate (sim/tls/README.md): self-signed for 127.0.0.1 and localhost. */
export const TEST_CA_PEM_PATH = join(TLS_DIR, 'cert.pem');

export interface StartSimOptions {
  /** A built-in scenario name (sim/scenarios/<name>.json), a JSON file path, or a scenario object. Default `default`. */
  scenario?: Scenario | ScenarioInput | string;
  /** Serve https with the committed test certificate (kubeconfig: certificate-authority-data). Default http. */
  tls?: boolean;
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Wall-clock milliseconds per simulated second, divided by 1000: 1 is real time, 0.01 a hundred times faster. */
  timeScale?: number;
  /** Faults from the start (merged over the scenario's own `faults`). */
  faults?: Partial<Faults>;
  /** The bearer token the kubeconfig carries and the server requires. Default: random. */
  token?: string;
}

export interface RunningSim {
  readonly url: string;
  /** YAML kubeconfig (token auth; https: certificate-authority-data; http: insecure-skip-tls-verify). */
  readonly kubeconfig: string;
  /** A @kubernetes/client-node KubeConfig loaded from that kubeconfig. */
  kubeConfig(): KubeConfig;
  readonly scenario: Scenario;
  readonly expected: { node: string; nodeIp: string; culprit: string };
  /** Change fault injection at run time; counted faults (rateLimit, serverErrors) count from now. */
  setFaults(faults: Partial<Faults>): void;
  /** The faults in force (counted ones as they count down). */
  faults(): Readonly<Faults>;
  /** Jobs currently in the cluster. */
  jobs(): Array<{ namespace: string; name: string }>;
  /** Pods currently in the cluster (scenario pods and Job pods). */
  pods(): Array<{ namespace: string; name: string }>;
  /** Requests served so far (REST and exec upgrades). */
  requests(): number;
  /** The token the kubeconfig carries. */
  readonly token: string;
  /** The PEM of the CA the https kubeconfig trusts (undefined over http). */
  readonly caPem: string | undefined;
  /** The expanded model of the scenario (pods, namespaces, sockets) the cluster answers from. */
  readonly world: World;
  close(): Promise<void>;
}

/** A kubeconfig in the shape `az aks get-credentials` writes, with the given server and token. */
export function kubeconfigYaml(options: {
  server: string;
  cluster: string;
  user: string;
  token: string;
  caPem?: string;
}): string {
  const q = (s: string) => JSON.stringify(s);
  const clusterLines = options.caPem
    ? `    certificate-authority-data: ${Buffer.from(options.caPem).toString('base64')}`
    : '    insecure-skip-tls-verify: true';
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    clusterLines,
    `    server: ${q(options.server)}`,
    `  name: ${q(options.cluster)}`,
    'contexts:',
    '- context:',
    `    cluster: ${q(options.cluster)}`,
    `    user: ${q(options.user)}`,
    `  name: ${q(options.cluster)}`,
    `current-context: ${q(options.cluster)}`,
    'preferences: {}',
    'users:',
    `- name: ${q(options.user)}`,
    '  user:',
    `    token: ${q(options.token)}`,
    '',
  ].join('\n');
}

export async function startSim(options: StartSimOptions = {}): Promise<RunningSim> {
  const scenarioOption = options.scenario ?? 'default';
  const scenario =
    typeof scenarioOption === 'string'
      ? await loadScenario(scenarioOption)
      : parseScenario(scenarioOption, '<scenario object>');
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0) || !Number.isFinite(timeScale))
    throw new RangeError(`timeScale must be a positive number, got ${timeScale}`);
  const faults = new FaultState(scenario.faults);
  if (options.faults) faults.set(options.faults);
  const world = buildWorld(scenario);
  const cluster = new Cluster(world, { timeScale, faults });
  const token = options.token ?? `sim-${randomBytes(16).toString('hex')}`;
  const ctx: ApiContext = { cluster, faults, token, requests: 0 };

  const caPem = options.tls ? readFileSync(TEST_CA_PEM_PATH, 'utf8') : undefined;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    void handleRequest(ctx, req, res);
  };
  const server: Server = options.tls
    ? createHttpsServer({ cert: caPem, key: readFileSync(join(TLS_DIR, 'key.pem'), 'utf8') }, onRequest)
    : createHttpServer(onRequest);
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => EXEC_PROTOCOLS.find((p) => offered.has(p)) ?? false,
    perMessageDeflate: false,
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    void handleUpgrade(ctx, wss, req, socket, head);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 0, host);
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `${options.tls ? 'https' : 'http'}://${urlHost}:${port}`;
  const c = scenario.cluster;
  const kubeconfig = kubeconfigYaml({
    server: url,
    cluster: c.name,
    user: `clusterUser_${c.resourceGroup}_${c.name}`,
    token,
    ...(caPem !== undefined ? { caPem } : {}),
  });

  let closing: Promise<void> | null = null;
  return {
    url,
    kubeconfig,
    kubeConfig() {
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfig);
      return kc;
    },
    scenario,
    expected: { ...scenario.expected },
    setFaults: (changes) => faults.set(changes),
    faults: () => ({ ...faults.current }),
    jobs: () =>
      [...cluster.jobs.values()].map((j) => ({ namespace: j.metadata.namespace ?? '', name: j.metadata.name })),
    pods: () =>
      [...cluster.pods.values()].map((p) => ({ namespace: p.metadata.namespace ?? '', name: p.metadata.name })),
    requests: () => ctx.requests,
    token,
    caPem,
    world,
    close() {
      closing ??= new Promise<void>((resolve) => {
        cluster.close();
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}

/**
 * The node's network namespaces and who owns them: `lsns -t net` rows joined with `crictl inspectp` sandboxes.
 * tcptracer prints the netns inode of every event (bcc); this map turns an inode into a pod.
 */
import type { LsnsEntry, SandboxInfo } from '../parse/types.js';
import type { NetnsEntry, NetnsOwner } from './evidence.js';

/** `/var/run` is a symlink to `/run` on every AKS node image: lsns prints one, crictl the other. */
function normalisePath(path: string): string {
  return path.replace(/^\/var\/run\//, '/run/');
}

/** Sandboxes worth mapping: ready ones first, so an old NotReady sandbox of the same pod never wins. */
function mappableSandboxes(sandboxes: readonly SandboxInfo[]): SandboxInfo[] {
  return [...sandboxes].sort((a, b) => Number(b.ready) - Number(a.ready) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function ownerForEntry(entry: LsnsEntry, sandboxes: readonly SandboxInfo[]): NetnsOwner {
  // PID 1 lives in the node's own namespace; so does every hostNetwork pod.
  if (entry.pid === 1) return { kind: 'host' };
  const paths = new Set(entry.nsfs.map(normalisePath));
  const byPath = sandboxes.find((s) => s.netnsPath !== null && paths.has(normalisePath(s.netnsPath)));
  // lsns PID is the lowest PID of the namespace: the sandbox's pause process unless PIDs wrapped around.
  const sandbox = byPath ?? sandboxes.find((s) => s.pid !== null && s.pid === entry.pid);
  if (!sandbox) return { kind: 'unknown' };
  if (sandbox.hostNetwork) return { kind: 'host' };
  return { kind: 'pod', namespace: sandbox.namespace, name: sandbox.name };
}

/** One entry per network namespace in lsns, sorted by inode. */
export function buildNetnsMap(lsns: readonly LsnsEntry[], sandboxes: readonly SandboxInfo[]): NetnsEntry[] {
  const ordered = mappableSandboxes(sandboxes);
  const seen = new Set<number>();
  const entries: NetnsEntry[] = [];
  for (const entry of lsns) {
    if (entry.type !== 'net' || seen.has(entry.ns)) continue;
    seen.add(entry.ns);
    entries.push({
      netns: entry.ns,
      pid: entry.pid,
      command: entry.command || null,
      owner: ownerForEntry(entry, ordered),
    });
  }
  return entries.sort((a, b) => a.netns - b.netns);
}

/** The netns inode of a pod, from the map; null when the map does not know it. */
export function netnsOfPod(map: readonly NetnsEntry[], namespace: string, name: string): number | null {
  const entry = map.find((e) => e.owner.kind === 'pod' && e.owner.namespace === namespace && e.owner.name === name);
  return entry ? entry.netns : null;
}

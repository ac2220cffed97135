/**
 * Attribution of tcptracer sources (local address + netns) to pods, to the node's own namespace, or to nobody.
 *
 * The netns inode is the kernel's answer and wins when the map knows it; the source address is matched exactly
 * (canonical text, never a prefix: 10.224.0.5 is not 10.224.0.50). Azure CNI puts node and pods in one subnet and
 * kubenet/overlay gives pods a private pod CIDR: exact matching is right for both. Nothing is dropped: a source that
 * matches nothing is returned as unattributed, and the report lists it as such.
 */
import type { DataQualityNote } from '../report/model.js';
import type { TcptracerSource } from '../parse/types.js';
import { canonicalAddress } from './ip.js';
import { podKey } from './evidence.js';
import type { NodeEvidence, PodEvidence } from './evidence.js';

export type Attribution =
  | { readonly kind: 'pod'; readonly namespace: string; readonly name: string; readonly by: 'netns' | 'saddr' }
  | { readonly kind: 'host'; readonly by: 'netns' | 'node-ip' }
  | { readonly kind: 'unattributed' };

export interface AttributedSource {
  readonly source: TcptracerSource;
  readonly attribution: Attribution;
}

export interface AttributionResult {
  readonly sources: AttributedSource[];
  readonly notes: DataQualityNote[];
}

const byKey = (a: PodEvidence, b: PodEvidence): number => {
  const ka = podKey(a);
  const kb = podKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

/** Canonical IP -> pods holding it (sorted by key, so an ambiguous match resolves the same way for any input order). */
function ipIndex(pods: readonly PodEvidence[]): Map<string, PodEvidence[]> {
  const index = new Map<string, PodEvidence[]>();
  for (const pod of [...pods].sort(byKey)) {
    // hostNetwork pods report the node's IP as theirs; their traffic is the node's.
    if (pod.hostNetwork) continue;
    for (const ip of pod.ips) {
      const canonical = canonicalAddress(ip);
      if (canonical === null) continue;
      const list = index.get(canonical) ?? [];
      if (!list.includes(pod)) list.push(pod);
      index.set(canonical, list);
    }
  }
  return index;
}

type NetnsVerdict = { kind: 'pod'; pod: PodEvidence } | { kind: 'host' } | null;

function netnsIndex(evidence: NodeEvidence): Map<number, NetnsVerdict> {
  const pods = new Map(evidence.pods.map((p) => [podKey(p), p]));
  const index = new Map<number, NetnsVerdict>();
  for (const entry of evidence.netns) {
    if (entry.owner.kind === 'host') index.set(entry.netns, { kind: 'host' });
    else if (entry.owner.kind === 'pod') {
      const pod = pods.get(podKey(entry.owner));
      if (pod) index.set(entry.netns, pod.hostNetwork ? { kind: 'host' } : { kind: 'pod', pod });
    }
  }
  // A pod's own netns (from the live capture Job) counts as much as the map; the map was built from the same facts.
  for (const pod of [...evidence.pods].sort(byKey)) {
    if (pod.netns !== null && !index.has(pod.netns)) {
      index.set(pod.netns, pod.hostNetwork ? { kind: 'host' } : { kind: 'pod', pod });
    }
  }
  return index;
}

export const describeSource = (source: TcptracerSource): string =>
  `${source.saddr} netns ${source.netns === null ? '-' : source.netns}`;

/** Attributes every source of the capture (none without a capture). */
export function attributeSources(evidence: NodeEvidence): AttributionResult {
  const sources = evidence.capture.capture?.sources ?? [];
  const byIp = ipIndex(evidence.pods);
  const byNetns = netnsIndex(evidence);
  const nodeIp = evidence.node.ip === null ? null : canonicalAddress(evidence.node.ip);
  const ambiguous = new Set<string>();
  const conflicts: string[] = [];
  const unattributed: string[] = [];

  const attributed = sources.map((source): AttributedSource => {
    const saddr = canonicalAddress(source.saddr) ?? source.saddr;
    const candidates = byIp.get(saddr) ?? [];
    if (candidates.length > 1) ambiguous.add(`${saddr} (${candidates.map(podKey).join(', ')})`);
    const byAddress = candidates[0];
    const viaNetns = source.netns === null ? null : (byNetns.get(source.netns) ?? null);

    if (viaNetns?.kind === 'host') return { source, attribution: { kind: 'host', by: 'netns' } };
    if (viaNetns?.kind === 'pod') {
      if (byAddress && byAddress !== viaNetns.pod) {
        conflicts.push(
          `${describeSource(source)}: netns says ${podKey(viaNetns.pod)}, address says ${podKey(byAddress)}`,
        );
      }
      const { namespace, name } = viaNetns.pod;
      return { source, attribution: { kind: 'pod', namespace, name, by: 'netns' } };
    }
    if (byAddress) {
      return {
        source,
        attribution: { kind: 'pod', namespace: byAddress.namespace, name: byAddress.name, by: 'saddr' },
      };
    }
    if (nodeIp !== null && saddr === nodeIp) return { source, attribution: { kind: 'host', by: 'node-ip' } };
    unattributed.push(describeSource(source));
    return { source, attribution: { kind: 'unattributed' } };
  });

  const notes: DataQualityNote[] = [];
  if (unattributed.length > 0) {
    notes.push({
      source: 'attribution',
      text:
        `capture sources matching no pod IP, netns or the node IP (listed as unattributed): ${listSome(unattributed)}; ` +
        'pods that ended before the pod list was taken, or missing from it (pods.json, crictl inspectp, lsns)',
      count: unattributed.length,
    });
  }
  if (ambiguous.size > 0) {
    notes.push({
      source: 'attribution',
      text: `pod IPs held by several pods (the first by name was used): ${listSome([...ambiguous].sort())}`,
      count: ambiguous.size,
    });
  }
  if (conflicts.length > 0) {
    notes.push({
      source: 'attribution',
      text: `netns and source address disagree (netns used): ${listSome(conflicts)}`,
      count: conflicts.length,
    });
  }
  return { sources: attributed, notes };
}

/** A bounded, readable list for notes. */
export function listSome(items: readonly string[], max = 5, separator = '; '): string {
  if (items.length <= max) return items.join(separator);
  return `${items.slice(0, max).join(separator)}${separator}and ${items.length - max} more`;
}

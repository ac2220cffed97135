import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HEAD_BYTES, detectCandidates, detectFormat, looksLikeTcptracer } from '../../lib/parse/detect.js';

const fixture = (path: string) =>
  readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8').slice(0, HEAD_BYTES);

const BCC = [
  'Tracing TCP established connections. Ctrl-C to end.',
  'TIME(ns)      TYPE         PID    COMM             IP SADDR            DADDR            SPORT  DPORT  NETNS   ',
  '0             connect      4242   OkHttp Dispatch  4  10.244.1.17      20.50.2.10       40312  443    4026532315',
].join('\n');
const LIBBPF = [
  'TIME(s)  T PID    COMM         IP SADDR            DADDR            SPORT DPORT',
  '0.000    C 4242   java         4  10.244.1.17      20.50.2.10       40312 443 ',
].join('\n');
const BCC_HEADERLESS =
  '3xxx9         connect      4242   curl             4  10.244.1.17      20.50.2.10       40312  443    4026532315\n';

describe('detectFormat', () => {
  it.each([
    ['bcc tcptracer with banner', BCC, 'tcptracer'],
    ['libbpf tcptracer header', LIBBPF, 'tcptracer'],
    ['headerless bcc rows', BCC_HEADERLESS, 'tcptracer'],
    ['net-tools netstat', fixture('netstat/net-tools-tnp-aks.txt'), 'netstat'],
    ['netstat rows after grep', fixture('netstat/net-tools-tnp-grep.txt'), 'netstat'],
    ['busybox netstat', fixture('netstat/busybox-tnp-aks.txt'), 'netstat'],
    ['ss with header', fixture('ss/real-tn-state-established.txt'), 'ss'],
    ['ss -H', fixture('ss/real-tanH.txt'), 'ss'],
    ['/proc/net/tcp and tcp6', fixture('proc-net-tcp/tcp-tcp6-aks.txt'), 'proc-net-tcp'],
    ['lsns as in the article', fixture('lsns/article-hand-edited.txt'), 'lsns'],
    ['lsns --raw --noheadings', fixture('lsns/real-2.38-raw-noheadings.txt'), 'lsns'],
    ['crictl inspectp', fixture('crictl/ready-pod.json'), 'crictl-inspectp'],
    ['common alert schema', fixture('alert/common-lb-used-snat-ports.json'), 'alert'],
  ])('recognises %s', (_name, head, format) => {
    expect(detectFormat(head, 'capture.txt')).toBe(format);
  });

  it.each([
    ['an empty file', ''],
    ['a tool error', 'sh: netstat: not found\n'],
    ['kubectl pods JSON', '{"apiVersion":"v1","kind":"List","items":[]}'],
    ['prose', 'TODO: capture again tomorrow\n'],
  ])('recognises nothing in %s', (_name, head) => {
    expect(detectFormat(head)).toBeNull();
    expect(detectFormat(head, 'tcptracer.log')).toBeNull();
  });

  it('lets the file name break a tie between formats that both accept the head, and only then', () => {
    const ambiguous = 'Tracing TCP\nActive Internet connections (w/o servers)\n';
    expect(detectCandidates(ambiguous)).toEqual(['tcptracer', 'netstat']);
    expect(detectFormat(ambiguous)).toBe('tcptracer');
    expect(detectFormat(ambiguous, 'pods/shop/netstat-api.txt')).toBe('netstat');
    expect(detectFormat(fixture('netstat/net-tools-tnp-aks.txt'), 'tcptracer.log')).toBe('netstat');
  });

  it('does not take a netstat or ss table for a tcptracer header', () => {
    expect(looksLikeTcptracer(fixture('netstat/net-tools-tnp-aks.txt'))).toBe(false);
    expect(looksLikeTcptracer(fixture('ss/real-tanH.txt'))).toBe(false);
    expect(looksLikeTcptracer(fixture('lsns/article-hand-edited.txt'))).toBe(false);
  });
});

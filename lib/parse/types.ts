/**
 * Shared shapes of the parsers. Every parser is total: it returns records plus the lines it skipped (with a reason),
 * and never throws on bad input. Input that is not what it claims to be at all (a tool's error message, an empty
 * file, JSON that is not an alert) is a rejection: `{ ok: false, problem }`, which the CLI maps to exit code 3.
 */

export interface SkippedLine {
  /** 1-based line number in the input. */
  readonly line: number;
  readonly reason: string;
}

/** What is wrong with an input as a whole, and where. */
export interface InputProblem {
  readonly message: string;
  /** Machine-readable kind, for callers that treat some rejections as expected (e.g. `not-metric-alert`). */
  readonly code?: string;
  /** 1-based line, when the problem sits on one line. */
  readonly line?: number;
  /** 1-based column, when known (JSON syntax errors). */
  readonly column?: number;
  /** JSON path of the offending field, e.g. `data.alertContext.condition.allOf[0].dimensions[1].value`. */
  readonly field?: string;
}

export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: InputProblem };

export const accept = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const reject = <T = never>(problem: InputProblem): Parsed<T> => ({ ok: false, problem });

/** The kernel's TCP states in the order of include/net/tcp_states.h: `TCP_STATES[code - 1]` is the state of code. */
export const TCP_STATES = [
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
] as const;

export type TcpState = (typeof TCP_STATES)[number];

export type Direction = 'outbound' | 'inbound' | 'unknown';

export type TcptracerVariant = 'bcc' | 'libbpf';
export type TcptracerEventType = 'connect' | 'accept' | 'close';

/** Connects of one source (local address + network namespace) in a tcptracer capture. */
export interface TcptracerSource {
  /** Canonical local address (mapped IPv6 written as IPv4). */
  readonly saddr: string;
  /** Network namespace inode; null for libbpf-tools, which does not print it. */
  readonly netns: number | null;
  readonly connects: number;
  readonly publicConnects: number;
  /** Process ids and COMM names seen connecting from this source (bounded lists, most frequent first). */
  readonly pids: number[];
  readonly comms: string[];
  /** Connect events per public destination endpoint, sorted by count then endpoint. */
  readonly publicDestinations: Array<{ endpoint: string; connects: number }>;
  /** Seconds between the first and last connect of this source, from TIME; null without a TIME column. */
  readonly spanSeconds: number | null;
}

/**
 * A whole tcptracer capture, aggregated while streaming (never the event list: a capture can hold millions of lines).
 * `toTcptracerDocument` projects it onto the `parse tcptracer` contract.
 */
export interface TcptracerCapture {
  readonly format: 'tcptracer';
  readonly variant: TcptracerVariant;
  /** Whether rows carry a TIME column, and in which unit. */
  readonly timeUnit: 'ns' | 's' | null;
  readonly events: Record<TcptracerEventType, number>;
  /** Sum of `Possibly lost N samples` / `Lost N events on CPU #n!` lines. */
  readonly lostEvents: number;
  readonly skipped: SkippedLine[];
  /** Skipped lines beyond the kept list (the list is bounded), so counts stay exact. */
  readonly skippedTotal: number;
  /** The last line had no newline (the writer was killed mid-line) and was dropped. */
  readonly cutLastLine: boolean;
  /** Seconds between the earliest and latest event TIME; null without a TIME column. */
  readonly spanSeconds: number | null;
  /** Sorted by connects desc, then saddr, then netns. */
  readonly sources: TcptracerSource[];
  /** All public connect destinations, sorted. */
  readonly publicDestinations: Array<{ endpoint: string; connects: number }>;
}

/** The `parse tcptracer` output contract (DESIGN.md). */
export interface TcptracerDocument {
  readonly format: 'tcptracer';
  readonly variant: TcptracerVariant;
  readonly events: Record<TcptracerEventType, number>;
  readonly lostEvents: number;
  readonly skipped: SkippedLine[];
  readonly connectsBySource: Array<{ saddr: string; netns: number | null; connects: number; publicConnects: number }>;
  readonly publicDestinations: Array<{ endpoint: string; connects: number }>;
}

/** `lsns -t net` (any column set). */
export interface LsnsEntry {
  readonly ns: number;
  readonly type: string;
  readonly nprocs: number | null;
  readonly pid: number | null;
  readonly user: string | null;
  readonly command: string;
  /** NETNSID column when present: a number, or null for `unassigned`/absent. */
  readonly netnsid?: number | null;
  /** Bind-mount paths (multi-line NSFS cells joined). */
  readonly nsfs: string[];
}
export interface LsnsDocument {
  readonly format: 'lsns';
  readonly entries: LsnsEntry[];
  readonly skipped: SkippedLine[];
}

/** One pod sandbox from `crictl inspectp`. */
export interface SandboxInfo {
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  /** Canonical pod IP, or null (hostNetwork pods have none of their own). */
  readonly ip: string | null;
  readonly hostNetwork: boolean;
  readonly netnsPath: string | null;
  readonly pid: number | null;
  readonly ready: boolean;
}
export interface CrictlDocument {
  readonly format: 'crictl-inspectp';
  readonly pods: SandboxInfo[];
  readonly skipped: SkippedLine[];
}

export interface AlertCondition {
  readonly metricName: string;
  readonly metricNamespace: string | null;
  readonly metricValue: number | null;
  readonly threshold: number | null;
  readonly operator: string | null;
  readonly timeAggregation: string | null;
  readonly dimensions: Record<string, string>;
}
export interface AlertDocument {
  readonly format: 'alert';
  readonly schema: 'azureMonitorCommonAlertSchema' | 'AzureMonitorMetricAlert';
  readonly monitorCondition: 'Fired' | 'Resolved';
  readonly severity: string | null;
  readonly alertRule: string | null;
  readonly alertId: string | null;
  readonly signalType: string | null;
  readonly targetResourceId: string | null;
  /** `loadBalancer`, `natGateway` or `other`, from the target resource type. */
  readonly targetKind: 'loadBalancer' | 'natGateway' | 'other';
  readonly firedAt: string | null;
  readonly windowStart: string | null;
  readonly windowEnd: string | null;
  readonly windowSize: string | null;
  readonly conditions: AlertCondition[];
  /** Canonical node IPs from BackendIPAddress dimensions, de-duplicated, in order of appearance. */
  readonly nodeIps: string[];
  /** Dimension values that should have been IP literals and are not: never used. */
  readonly invalidDimensionValues: Array<{ field: string; value: string }>;
}

/** `file:line:col: message (field x)`: the shape of every bad-input message. */
export function describeProblem(where: string, problem: InputProblem): string {
  let location = where;
  if (problem.line !== undefined) location += `:${problem.line}`;
  if (problem.column !== undefined) location += `:${problem.column}`;
  const field = problem.field ? ` (field ${problem.field})` : '';
  return `${location}: ${problem.message}${field}`;
}

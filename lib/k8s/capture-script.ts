/**
 * The capture Job's script: a constant POSIX sh program, and the only inputs it takes, numeric environment variables.
 *
 * Why a constant: a peer shipped a root-on-node command injection through a free-text capture filter. Here nothing
 * from a request, an alert or a pod ever reaches a shell: `captureEnv` validates integers into env vars, and the
 * script re-validates every one of them with a `case` pattern before use (a Job edited by hand gets the same checks).
 *
 * What it does (log format: lib/k8s/capture-log.md):
 * 1. finds the node's tracer inside the host's mount namespace (`nsenter -t 1 -m -u -i -n -p --`): bcc
 *    `/usr/share/bcc/tools/tcptracer`, Ubuntu's `tcptracer-bpfcc`, or a `tcptracer` on PATH, which is bcc when its
 *    `--help` offers `--ipv4` (argparse) and libbpf-tools otherwise (argp, no -4/-6);
 * 2. runs it for the window under `timeout --preserve-status -k 10 -s INT <secs>` (bcc only stops cleanly on SIGINT),
 *    unbuffered (PYTHONUNBUFFERED=1 for bcc's Python, `stdbuf -oL -eL` for C stdio), both address families (never
 *    `-4`: it drops IPv4 traffic of dual-stack sockets), stderr merged, at most `max_lines` lines kept (`head -n`);
 * 3. writes the netns map: every distinct network namespace (`stat -L -c %i /proc/<pid>/ns/net`), its lowest PID,
 *    the pod UID from that PID's cgroup path (`kubepods...pod<uid>`), and host=1 for PID 1's namespace;
 * 4. writes one census per namespace: `/proc/<pid>/net/tcp` and `tcp6` of that PID, i.e. of the namespace, read from
 *    the node, so distroless pods need no tool inside;
 * 5. ends with a trailer (status, counts, truncation, elapsed seconds).
 *
 * Only the tracer and its helpers run inside the host's namespaces (they are the node's binaries); the rest runs in
 * the container, which sees the node's processes through hostPID. The container needs a POSIX sh with nsenter,
 * stat, sort, head, tail, wc, cat, tr, date and mktemp: busybox has them all.
 *
 * Another tracer (Inspektor Gadget's `ig run trace_tcp -o json`, shipped on recent AKS images) plugs in at two
 * marked places: detection (`detect_tracer`) and its command line (the `case $tracer` in the main program), plus a parser for its JSON lines in
 * lib/k8s/capture-log.ts keyed on `tracer=ig`.
 */
import { invalidValue } from './errors.js';

export const CAPTURE_LOG_MARKER = '##SNAT-RESPONDER##';
export const CAPTURE_LOG_VERSION = 1;

/** The numeric parameters and their bounds. The same bounds are in the script. */
export const CAPTURE_LIMITS = Object.freeze({
  captureSeconds: { min: 1, max: 600, env: 'CAPTURE_SECONDS' },
  /**
   * tcptracer lines kept. The default keeps the log (about 140 bytes a line) under kubelet's 10 MiB
   * containerLogMaxSize, past which the log is rotated and the pod log API returns only the newest part.
   */
  maxLines: { min: 1, max: 200_000, env: 'CAPTURE_MAX_LINES', default: 30_000 },
  /** /proc/net/tcp{,6} lines kept per network namespace (a pod at exhaustion holds thousands of sockets). */
  censusMaxLines: { min: 1, max: 100_000, env: 'CAPTURE_CENSUS_MAX_LINES', default: 4_000 },
  /** 1 = run the tracer in the host's namespaces (production); 0 = run it where the script runs (tests only). */
  enterHost: { min: 0, max: 1, env: 'CAPTURE_ENTER_HOST', default: 1 },
});

export interface CaptureParams {
  readonly captureSeconds: number;
  readonly maxLines?: number;
  readonly censusMaxLines?: number;
  /** Tests only: false runs the tracer without nsenter (this machine has no node to enter). */
  readonly enterHostNamespaces?: boolean;
}

function checkInt(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidValue(
      `capture parameter ${field} must be an integer ${min}..${max}, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  return value;
}

/** The validated parameters as environment variables (decimal integers without leading zeros). */
export function captureEnv(params: CaptureParams): Array<{ name: string; value: string }> {
  const L = CAPTURE_LIMITS;
  const seconds = checkInt('captureSeconds', params.captureSeconds, L.captureSeconds.min, L.captureSeconds.max);
  const maxLines = checkInt('maxLines', params.maxLines ?? L.maxLines.default, L.maxLines.min, L.maxLines.max);
  const censusMaxLines = checkInt(
    'censusMaxLines',
    params.censusMaxLines ?? L.censusMaxLines.default,
    L.censusMaxLines.min,
    L.censusMaxLines.max,
  );
  if (params.enterHostNamespaces !== undefined && typeof params.enterHostNamespaces !== 'boolean') {
    throw invalidValue('capture parameter enterHostNamespaces must be a boolean');
  }
  const enterHost = params.enterHostNamespaces === false ? 0 : 1;
  return [
    { name: L.captureSeconds.env, value: String(seconds) },
    { name: L.maxLines.env, value: String(maxLines) },
    { name: L.censusMaxLines.env, value: String(censusMaxLines) },
    { name: L.enterHost.env, value: String(enterHost) },
  ];
}

/** `captureEnv` as a plain object, for spawning the script directly (tests). */
export function captureEnvRecord(params: CaptureParams): Record<string, string> {
  return Object.fromEntries(captureEnv(params).map((e) => [e.name, e.value]));
}

/**
 * Shell functions, kept apart so tests can exercise them alone (e.g. the pod UID rule on sample cgroup files).
 * POSIX sh only: no arrays, no `local`, no pipefail.
 */
export const CAPTURE_FUNCTIONS = String.raw`
# valid VALUE MIN MAX: a decimal integer without sign or leading zero, at most 6 digits, within MIN..MAX.
valid() {
  case $1 in ''|*[!0-9]*|0?*) return 1 ;; esac
  [ "${'$'}{#1}" -le 6 ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

# host CMD...: run CMD in the node's mount, UTS, IPC, network and PID namespaces (PID 1's), or here when
# CAPTURE_ENTER_HOST=0 (tests).
host() {
  if [ "$enter" = 1 ]; then nsenter -t 1 -m -u -i -n -p -- "$@"; else "$@"; fi
}

# pod_uid_of CGROUP_FILE: the pod UID in a /proc/<pid>/cgroup file, else "-". Matches both cgroup drivers:
# systemd  .../kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope
# cgroupfs .../kubepods/burstable/pod<uid>/<id>
# The last "pod" of the line precedes the UID (container ids are hex, so they hold no "pod").
pod_uid_of() {
  u=-
  while IFS= read -r line; do
    case $line in
      *kubepods*pod*)
        rest=${'$'}{line##*pod}
        rest=${'$'}{rest%%[./]*}
        rest=$(printf '%s' "$rest" | tr _ -)
        case $rest in
          *[!0-9a-f-]*) ;;
          *) [ "${'$'}{#rest}" -eq 36 ] && u=$rest ;;
        esac
        break
        ;;
    esac
  done 2>/dev/null < "$1"
  printf '%s\n' "$u"
}

# count_lines FILE: newline-terminated lines in FILE, as a plain number.
count_lines() {
  n=$(wc -l < "$1" 2>/dev/null | tr -d ' ')
  case $n in ''|*[!0-9]*) n=0 ;; esac
  echo "$n"
}

# ends_unterminated FILE: true when FILE is not empty and its last byte is not a newline.
ends_unterminated() {
  [ -s "$1" ] && [ "$(tail -c 1 "$1" | wc -l)" -eq 0 ]
}

# detect_tracer: sets tracer (bcc|libbpf|none) and tpath. Another tracer (ig) goes here.
detect_tracer() {
  tracer=none
  tpath=
  if host test -x /usr/share/bcc/tools/tcptracer 2>/dev/null; then
    tracer=bcc
    tpath=/usr/share/bcc/tools/tcptracer
    return
  fi
  p=$(host sh -c 'command -v tcptracer-bpfcc' 2>/dev/null)
  case $p in /*) tracer=bcc; tpath=$p; return ;; esac
  p=$(host sh -c 'command -v tcptracer' 2>/dev/null)
  case $p in
    /*)
      tpath=$p
      help=$(host timeout 10 "$p" --help 2>&1 < /dev/null)
      case $help in
        *--ipv4*) tracer=bcc ;;
        *) tracer=libbpf ;;
      esac
      ;;
  esac
}

`;

/** The main program. Reads only CAPTURE_* integers; writes the framed log to stdout. */
export const CAPTURE_MAIN = String.raw`
exec 2>&1
M='${CAPTURE_LOG_MARKER}'
started=$(date +%s)
secs=${'$'}{${CAPTURE_LIMITS.captureSeconds.env}-}
max=${'$'}{${CAPTURE_LIMITS.maxLines.env}-}
cmax=${'$'}{${CAPTURE_LIMITS.censusMaxLines.env}-}
enter=${'$'}{${CAPTURE_LIMITS.enterHost.env}-1}

if ! valid "$secs" ${CAPTURE_LIMITS.captureSeconds.min} ${CAPTURE_LIMITS.captureSeconds.max} ||
  ! valid "$max" ${CAPTURE_LIMITS.maxLines.min} ${CAPTURE_LIMITS.maxLines.max} ||
  ! valid "$cmax" ${CAPTURE_LIMITS.censusMaxLines.min} ${CAPTURE_LIMITS.censusMaxLines.max} ||
  { [ "$enter" != 0 ] && [ "$enter" != 1 ]; }; then
  echo "$M begin v=${CAPTURE_LOG_VERSION} tracer=none capture_seconds=0 max_lines=0 census_max_lines=0 started=$started"
  echo "$M trailer status=failed reason=bad-parameters tcptracer_lines=0 truncated=0 netns=0 elapsed=0"
  exit 2
fi

tmp=$(mktemp -d /tmp/snat-capture.XXXXXX 2>/dev/null) || tmp=
if [ -z "$tmp" ] || [ ! -d "$tmp" ]; then
  echo "$M begin v=${CAPTURE_LOG_VERSION} tracer=none capture_seconds=$secs max_lines=$max census_max_lines=$cmax started=$started"
  echo "$M trailer status=failed reason=no-scratch-space tcptracer_lines=0 truncated=0 netns=0 elapsed=0"
  exit 3
fi
trap 'rm -rf "$tmp"' EXIT

reason=
if host true 2>/dev/null; then
  detect_tracer
else
  tracer=none
  tpath=
  reason=no-host-namespaces
fi

echo "$M begin v=${CAPTURE_LOG_VERSION} tracer=$tracer capture_seconds=$secs max_lines=$max census_max_lines=$cmax started=$started"

# --- tcptracer ---
echo "$M section tcptracer"
tlines=0
ttrunc=0
tpartial=0
texit=none
tsecs=0
if [ "$tracer" != none ]; then
  # The tracer's command line (set -- cannot be wrapped in a function: it would set the function's arguments).
  # Both families (never -4), timestamps; bcc -v prints NETNS. Another tracer (ig) gets its arguments here.
  case $tracer in
    bcc) set -- "$tpath" -t -v ;;
    libbpf) set -- "$tpath" -t ;;
  esac
  if host sh -c 'command -v stdbuf' > /dev/null 2>&1; then set -- stdbuf -oL -eL "$@"; fi
  set -- timeout --preserve-status -k 10 -s INT "$secs" env PYTHONUNBUFFERED=1 "$@"
  t0=$(date +%s)
  # The tracer's exit status comes back on fd 4 (POSIX sh has no pipefail). fd 4 is closed for the tracer itself, so
  # a child it leaves behind cannot hold the command substitution open.
  texit=$({ { host "$@" 2>&1 4>&- < /dev/null; echo $? >&4; } | head -n $((max + 1)) > "$tmp/trace"; } 4>&1)
  t1=$(date +%s)
  tsecs=$((t1 - t0))
  case $texit in ''|*[!0-9]*) texit=255 ;; esac
  tlines=$(count_lines "$tmp/trace")
  if [ "$tlines" -gt "$max" ]; then
    ttrunc=1
    tlines=$max
  elif ends_unterminated "$tmp/trace"; then
    # A line cut by the tracer's death is not written: it may look whole and be cut mid-field.
    tpartial=1
  fi
  if [ "$tlines" -gt 0 ]; then head -n "$tlines" "$tmp/trace"; fi
  rm -f "$tmp/trace"
fi
echo "$M end tcptracer lines=$tlines truncated=$ttrunc partial=$tpartial exit=$texit seconds=$tsecs"

# --- netns map ---
hostns=$(stat -L -c %i /proc/1/ns/net 2>/dev/null)
case $hostns in ''|*[!0-9]*) hostns= ;; esac
stat -L -c '%i %n' /proc/[0-9]*/ns/net 2>/dev/null > "$tmp/ns.raw"
while read -r ino path; do
  pid=${'$'}{path#/proc/}
  pid=${'$'}{pid%/ns/net}
  case $ino in ''|*[!0-9]*) continue ;; esac
  case $pid in ''|*[!0-9]*) continue ;; esac
  echo "$ino $pid"
done < "$tmp/ns.raw" | sort -k1,1n -k2,2n > "$tmp/ns.sorted"
prev=
nns=0
: > "$tmp/ns.pairs"
echo "$M section netns"
while read -r ino pid; do
  [ "$ino" = "$prev" ] && continue
  prev=$ino
  h=0
  [ "$ino" = "$hostns" ] && h=1
  echo "netns=$ino pid=$pid uid=$(pod_uid_of "/proc/$pid/cgroup") host=$h"
  echo "$ino $pid" >> "$tmp/ns.pairs"
  nns=$((nns + 1))
done < "$tmp/ns.sorted"
echo "$M end netns lines=$nns"

# --- socket census, one per network namespace ---
while read -r ino pid; do
  echo "$M section census netns=$ino pid=$pid"
  cat "/proc/$pid/net/tcp" "/proc/$pid/net/tcp6" 2>/dev/null | head -n $((cmax + 1)) > "$tmp/census"
  n=$(count_lines "$tmp/census")
  ct=0
  if [ "$n" -gt "$cmax" ]; then
    ct=1
    n=$cmax
  fi
  if [ "$n" -gt 0 ]; then head -n "$n" "$tmp/census"; fi
  echo "$M end census lines=$n truncated=$ct"
done < "$tmp/ns.pairs"

# --- trailer ---
status=ok
if [ -n "$reason" ]; then
  status=failed
elif [ "$tracer" = none ]; then
  status=no-tracer
elif [ "$ttrunc" = 0 ] && { { [ "$texit" != 0 ] && [ "$texit" != 130 ]; } || [ "$tsecs" -lt $((secs - 1)) ]; }; then
  # Ended abnormally (127 not found, 137 ignored SIGINT and was killed, 1 failed to attach) or before the window.
  status=partial
fi
if [ "$nns" -eq 0 ] && [ "$status" = ok ]; then status=partial; fi
echo "$M trailer status=$status${'$'}{reason:+ reason=$reason} tcptracer_lines=$tlines truncated=$ttrunc netns=$nns elapsed=$(($(date +%s) - started))"
exit 0
`;

/** The whole script: what the capture container runs with `/bin/sh -c`. */
export const CAPTURE_SCRIPT = `# snat-responder capture script (log format v${CAPTURE_LOG_VERSION}: lib/k8s/capture-log.md)
set -u
${CAPTURE_FUNCTIONS}
${CAPTURE_MAIN}`;

/**
 * The format registry behind `snat-responder parse <format>`: one entry per format, each producing the JSON document
 * of the public contract (DESIGN.md "CLI"). Large captures are streamed; the rest are read whole (all are small).
 */
import type { Readable } from 'node:stream';
import type { SocketDocumentOptions } from './sockets.js';
import type { Parsed } from './types.js';

export const FORMATS = ['tcptracer', 'netstat', 'ss', 'proc-net-tcp', 'lsns', 'crictl-inspectp', 'alert'] as const;
export type Format = (typeof FORMATS)[number];

export function isFormat(name: string): name is Format {
  return (FORMATS as readonly string[]).includes(name);
}

export type ParseOptions = SocketDocumentOptions;

/** Upper bound for inputs read whole; alerts have their own 256 KB limit, checked before parsing. */
export const MAX_WHOLE_INPUT_BYTES = 64 * 1024 * 1024;

async function readAll(input: Readable, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > limit) {
      input.destroy();
      return null;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/**
 * Parses one input stream in the named format into its contract document. Each parser module is loaded on first use:
 * some pull in zod, whose load time alone is a third of `parse tcptracer`'s budget against awk (bench/run.ts).
 *
 * `path`: the file `input` reads, when it is one. tcptracer then reads the file itself, in parallel parts (see
 * tcptracer-parallel.ts), and `input` is closed unread.
 */
export async function parseFormat(
  format: Format,
  input: Readable,
  options: ParseOptions = {},
  path?: string,
): Promise<Parsed<unknown>> {
  if (format === 'tcptracer') {
    const { parseTcptracerStream, toTcptracerDocument } = await import('./tcptracer.js');
    let parsed;
    if (path === undefined) {
      parsed = await parseTcptracerStream(input, options);
    } else {
      input.destroy();
      parsed = await (await import('./tcptracer-parallel.js')).parseTcptracerFile(path, options);
    }
    return parsed.ok ? { ok: true, value: toTcptracerDocument(parsed.value) } : parsed;
  }
  // One byte past the alert limit is enough to know an alert is too large; do not buffer the rest.
  const limit = format === 'alert' ? 256 * 1024 + 1 : MAX_WHOLE_INPUT_BYTES;
  const bytes = await readAll(input, limit);
  if (bytes === null) {
    return {
      ok: false,
      problem: {
        code: 'too-large',
        message:
          format === 'alert'
            ? 'alert payload is over 256 KB (Azure Monitor alerts are at most 256 KB)'
            : `input is over ${MAX_WHOLE_INPUT_BYTES / 1024 / 1024} MB`,
      },
    };
  }
  switch (format) {
    case 'alert':
      return (await import('./alert.js')).parseAlert(bytes);
    case 'netstat':
      return (await import('./netstat.js')).parseNetstat(bytes.toString('utf8'), options);
    case 'ss':
      return (await import('./ss.js')).parseSs(bytes.toString('utf8'), options);
    case 'proc-net-tcp':
      return (await import('./proc-net-tcp.js')).parseProcNetTcp(bytes.toString('utf8'), options);
    case 'lsns':
      return (await import('./lsns.js')).parseLsns(bytes.toString('utf8'));
    case 'crictl-inspectp':
      return (await import('./crictl.js')).parseCrictlInspectp(bytes.toString('utf8'));
  }
}

/**
 * The `snat-responder` command. Thin: parse arguments, call lib/, map errors to exit codes
 * (0 ok, 2 usage, 3 bad input, 4 environment) with one clear line on stderr.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
import { EXIT, exitCodeOf, isSnatResponderError, badInput, usageError } from '../lib/errors.js';
import { FORMATS, isFormat, parseFormat } from '../lib/parse/index.js';
import { describeProblem } from '../lib/parse/types.js';
import type { ServeCliOptions } from './serve.js';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly stdin: () => Readable;
  /** Whether stderr is a terminal (the progress display updates one line there). */
  readonly stderrIsTty?: () => boolean;
}

const processIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  stdin: () => process.stdin,
  stderrIsTty: () => process.stderr.isTTY === true,
};

/** `12`, `8080,9090` -> ports; anything else is a usage error naming the option. */
export function parsePortList(text: string): number[] {
  const ports = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  for (const p of ports) {
    if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) {
      throw usageError(`--listening-ports: '${p}' is not a port number (1-65535)`);
    }
  }
  return ports.map(Number);
}

async function openInput(file: string, io: CliIo): Promise<Readable> {
  if (file === '-') return io.stdin();
  let info;
  try {
    info = await stat(file);
  } catch {
    throw badInput(`${file}: no such file`);
  }
  if (info.isDirectory()) throw badInput(`${file}: is a directory, expected a file`);
  return createReadStream(file);
}

/** An exit code a command sets besides success (investigate: 130 when cancelled). */
interface RunState {
  exitCode: number;
}

function buildProgram(io: CliIo, state: RunState): Command {
  const program = new Command('snat-responder')
    .description("Find the pod and public destination exhausting an AKS node's SNAT ports.")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError(false);

  program
    .command('parse')
    .description('Parse one capture (a file, or - for stdin) and print one JSON document on stdout.')
    .addArgument(program.createArgument('<format>', 'input format').choices(FORMATS))
    .argument('<file>', 'input file, or - for stdin')
    .addOption(
      new Option('--listening-ports <ports>', 'comma-separated ports the pod listens on (netstat, ss, proc-net-tcp)'),
    )
    .addOption(new Option('--private-cidrs <cidrs>', 'comma-separated CIDRs that do not use SNAT (VNet, peerings)'))
    .action(async (format: string, file: string, opts: { listeningPorts?: string; privateCidrs?: string }) => {
      if (!isFormat(format)) throw usageError(`unknown format '${format}'`);
      const listeningPorts = opts.listeningPorts ? parsePortList(opts.listeningPorts) : [];
      const classifier = await classifierFrom(opts.privateCidrs);
      const input = await openInput(file, io);
      const parsed = await parseFormat(format, input, { listeningPorts, classifier }, file === '-' ? undefined : file);
      if (!parsed.ok) throw badInput(describeProblem(file === '-' ? '<stdin>' : file, parsed.problem));
      io.stdout(JSON.stringify(parsed.value, null, 2) + '\n');
    });

  program
    .command('analyze')
    .description('Rank the pods of a node from files captured by hand; writes report.{json,md,html}.')
    .argument('<dir>', 'folder of captures (see README: "analyze: the folder convention")')
    .option('--out <dir>', 'where to write the report (default: the input folder)')
    .option('--private-cidrs <cidrs>', 'comma-separated CIDRs that do not use SNAT (VNet, peerings)')
    .option('--allocated-ports <n>', "the node's allocated SNAT ports, when the folder does not say")
    .option('--json', 'print the report JSON instead of the summary')
    .action(
      async (dir: string, opts: { out?: string; privateCidrs?: string; allocatedPorts?: string; json?: boolean }) => {
        let allocatedPorts: number | undefined;
        if (opts.allocatedPorts !== undefined) {
          if (!/^\d{1,6}$/.test(opts.allocatedPorts) || Number(opts.allocatedPorts) < 1) {
            throw usageError(`--allocated-ports: '${opts.allocatedPorts}' is not a positive whole number`);
          }
          allocatedPorts = Number(opts.allocatedPorts);
        }
        const classifier = await classifierFrom(opts.privateCidrs);
        // Loaded on use: the report stack is not needed by `parse`, whose start-up time is benchmarked.
        const { runAnalyze } = await import('./analyze.js');
        await runAnalyze({ dir, out: opts.out ?? dir, classifier, allocatedPorts, json: opts.json === true }, io);
      },
    );

  program
    .command('sim')
    .description(
      'Serve the simulated AKS cluster until SIGINT/SIGTERM; once ready, print one JSON line with its kubeconfig.',
    )
    .option('--scenario <name|file>', 'a built-in scenario (sim/scenarios) or a scenario JSON file', 'default')
    .option('--port <n>', 'port to listen on (default: any free port)')
    .option('--kubeconfig-out <file>', 'where to write the kubeconfig (default: a temporary file, removed on exit)')
    .option('--tls', 'serve https with the committed test certificate (sim/tls)')
    .option('--time-scale <x>', 'wall-clock seconds per simulated second (default 1; 0.01 runs Jobs 100x faster)')
    .action(
      async (opts: { scenario?: string; port?: string; kubeconfigOut?: string; tls?: boolean; timeScale?: string }) => {
        const { runSim } = await import('./sim.js');
        await runSim(opts, io);
      },
    );

  program
    .command('serve')
    .description(
      'Serve the HTTP routes of the Functions app on loopback, investigating the kubeconfig\'s cluster in-process; once ready, print one JSON line {"url"}.',
    )
    .option('--port <n>', 'port to listen on (default: any free port)')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: its current-context)')
    .option(
      '--capture-seconds <s>',
      'capture window of alert-started investigations (default SNAT_CAPTURE_SECONDS_DEFAULT)',
    )
    .option(
      '--out <dir>',
      'reports folder when SNAT_REPORT_STORAGE is unset (one folder per investigation)',
      'snat-reports',
    )
    .option(
      '--azure-monitor',
      "read the node's SNAT metrics of an alert from Azure Monitor as DefaultAzureCredential (az login); implied by SNAT_ARM_ENDPOINT",
    )
    .action(async (opts: ServeCliOptions) => {
      const { classifier } = await classifierAndCidrs(process.env.SNAT_PRIVATE_CIDRS);
      const { runServe } = await import('./serve.js');
      state.exitCode = await runServe(opts, classifier, io);
    });

  program
    .command('investigate')
    .description(
      'Run the whole investigation (capture Job, pod census, analysis) against a cluster; writes report.{json,md,html}.',
    )
    .option('--node <name|ip>', "the node: its name, or its exact InternalIP (the load balancer's BackendIPAddress)")
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, else ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: its current-context)')
    .option('--duration <s>', 'capture window in seconds, 1..600', '30')
    .option('--out <dir>', 'where to write the report (default: ./snat-report-<node>-<time>)')
    .option('--private-cidrs <cidrs>', 'comma-separated CIDRs that do not use SNAT (VNet, peerings)')
    .option('--allocated-ports <n>', "the node's allocated SNAT ports (Azure Monitor AllocatedSnatPorts)")
    .option('--namespace <ns>', 'the capture namespace (infra/k8s/namespace.yaml)')
    .option('--image <ref>', 'the capture Job image (default: mcr.microsoft.com/azurelinux/busybox:1.36)')
    .option('--concurrency <n>', 'pod census execs at once, 1..256', '16')
    .action(async (opts: Record<string, string | undefined>) => {
      const { classifier, cidrs } = await classifierAndCidrs(opts.privateCidrs);
      const { runInvestigate } = await import('./investigate.js');
      state.exitCode = await runInvestigate(opts, classifier, cidrs, io);
    });

  program
    .command('demo')
    .description(
      'The alert-driven path on this machine: Azurite, the simulated AKS cluster and Azure Monitor, a webhook sink ' +
        'and serve; posts a SNAT alert and writes demo-output/report.json, report.html and notification.json.',
    )
    .option('--out <dir>', 'where to write the report', 'demo-output')
    .option('--scenario <name|file>', 'a built-in scenario (sim/scenarios) or a scenario JSON file', 'default')
    .action(async (opts: { out: string; scenario: string }) => {
      const classifier = await classifierFrom(undefined);
      const { runDemo } = await import('./demo.js');
      state.exitCode = await runDemo({ out: opts.out, scenario: opts.scenario, captureSeconds: 3 }, classifier, io);
    });

  return program;
}

async function classifierAndCidrs(text: string | undefined) {
  const classifier = await classifierFrom(text);
  const cidrs = (text ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  return { classifier, cidrs };
}

async function classifierFrom(cidrs: string | undefined) {
  const { AddressClassifier, invalidCidrs } = await import('../lib/analysis/ip.js');
  const list = (cidrs ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  const bad = invalidCidrs(list);
  if (bad.length > 0) throw usageError(`--private-cidrs: not a CIDR: ${bad.join(', ')}`);
  return new AddressClassifier({ privateCidrs: list });
}

/** Runs the CLI; returns the exit code instead of exiting, so tests can call it in-process. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const state: RunState = { exitCode: EXIT.ok };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return state.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are successful exits; every other commander error is a usage error it already printed.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (isSnatResponderError(e)) {
      io.stderr(`snat-responder: ${e.message}\n`);
      return exitCodeOf(e);
    }
    io.stderr(`snat-responder: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT.failure;
  }
}

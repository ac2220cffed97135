/**
 * The orchestrators (orchestrations/): registrations only, the workflow is in the generators. `runOrchestration` runs
 * each on `durableOps(context)` and writes its started / phase changed / finished lines, once each, not per replay.
 */
import df from 'durable-functions';
import { investigateAlert } from '../orchestrations/alert.js';
import type { AlertInvestigationInput } from '../orchestrations/alert.js';
import { investigateCluster } from '../orchestrations/cluster.js';
import type { ClusterInvestigationInput } from '../orchestrations/cluster.js';
import { runOrchestration } from '../orchestrations/durable.js';
import { investigateSnat } from '../orchestrations/investigate.js';
import type { InvestigationInput } from '../orchestrations/investigate.js';
import { ORCHESTRATIONS } from '../lib/workflow/contracts.js';

df.app.orchestration(ORCHESTRATIONS.investigateSnat, function* (context) {
  const input = context.df.getInput<InvestigationInput>();
  return yield* runOrchestration(context, ORCHESTRATIONS.investigateSnat, (ops) => investigateSnat(input, ops));
});

df.app.orchestration(ORCHESTRATIONS.investigateAlert, function* (context) {
  const input = context.df.getInput<AlertInvestigationInput>();
  return yield* runOrchestration(context, ORCHESTRATIONS.investigateAlert, (ops) => investigateAlert(input, ops));
});

df.app.orchestration(ORCHESTRATIONS.investigateCluster, function* (context) {
  const input = context.df.getInput<ClusterInvestigationInput>();
  return yield* runOrchestration(context, ORCHESTRATIONS.investigateCluster, (ops) => investigateCluster(input, ops));
});

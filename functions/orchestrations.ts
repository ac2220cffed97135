/** The orchestrators (orchestrations/): registrations only, the workflow is in the generators. */
import df from 'durable-functions';
import { investigateAlert } from '../orchestrations/alert.js';
import type { AlertInvestigationInput } from '../orchestrations/alert.js';
import { investigateCluster } from '../orchestrations/cluster.js';
import type { ClusterInvestigationInput } from '../orchestrations/cluster.js';
import { durableOps } from '../orchestrations/durable.js';
import { investigateSnat } from '../orchestrations/investigate.js';
import type { InvestigationInput } from '../orchestrations/investigate.js';
import { ORCHESTRATIONS } from '../lib/workflow/contracts.js';

df.app.orchestration(ORCHESTRATIONS.investigateSnat, function* (context) {
  return yield* investigateSnat(context.df.getInput<InvestigationInput>(), durableOps(context));
});

df.app.orchestration(ORCHESTRATIONS.investigateAlert, function* (context) {
  return yield* investigateAlert(context.df.getInput<AlertInvestigationInput>(), durableOps(context));
});

df.app.orchestration(ORCHESTRATIONS.investigateCluster, function* (context) {
  return yield* investigateCluster(context.df.getInput<ClusterInvestigationInput>(), durableOps(context));
});

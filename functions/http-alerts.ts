/**
 * POST /api/alerts: the action group webhook. Thin: secret -> planAlert -> claim each target (a node's investigation,
 * or a NAT gateway alert's cluster census) -> alertResponse.
 */
import df from 'durable-functions';
import type { HttpRequest, InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { planAlert } from '../lib/intake/alert.js';
import { alertResponse, checkAlertSecret } from '../lib/intake/http.js';
import { durableInstances, startAlertTargets } from '../lib/serve/durable.js';
import { originOf, responseInit, settingsOnce } from '../lib/serve/handler-kit.js';

df.app.client.http('alerts', {
  route: 'alerts',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: DurableClient, context: InvocationContext) => {
    const loaded = settingsOnce((m) => context.error(m));
    if (!loaded.ok) return responseInit(loaded.response);
    const { settings } = loaded;
    const denied = checkAlertSecret(request, settings);
    if (denied) return responseInit(denied);
    const plan = planAlert(new Uint8Array(await request.arrayBuffer()), settings);
    const started =
      plan.kind === 'start'
        ? await startAlertTargets(durableInstances(client), plan, {
            now: new Date(),
            cooldownMs: settings.cooldownMinutes * 60_000,
            captureSeconds: settings.capture.defaultSeconds,
            maxParallel: settings.maxConcurrentInvestigations,
          })
        : [];
    return responseInit(alertResponse(plan, started, originOf(request.url)));
  },
});

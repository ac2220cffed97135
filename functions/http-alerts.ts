/**
 * POST /api/alerts: the action group webhook. Thin: rate limit -> secret -> planAlert -> claim each target (a node's
 * investigation, or a NAT gateway alert's cluster census) -> alertResponse; the decision is logged (never the body).
 */
import df from 'durable-functions';
import type { HttpRequest, InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { planAlert } from '../lib/intake/alert.js';
import { alertResponse, checkAlertSecret } from '../lib/intake/http.js';
import { durableInstances, startAlertTargets } from '../lib/serve/durable.js';
import { answerFor, checkRateLimit, invocationLogger, originOf, settingsFor } from '../lib/serve/handler-kit.js';

df.app.client.http('alerts', {
  route: 'alerts',
  methods: ['POST'],
  authLevel: 'function',
  handler: async (request: HttpRequest, client: DurableClient, context: InvocationContext) => {
    const log = invocationLogger(context);
    const answer = answerFor(log, 'alerts');
    const loaded = settingsFor(log);
    if (!loaded.ok) return answer(loaded.response);
    const { settings } = loaded;
    const limited = checkRateLimit(settings, 'alerts', request);
    if (limited) return answer(limited);
    const denied = checkAlertSecret(request, settings);
    if (denied) return answer(denied);
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
    return answer(
      alertResponse(plan, started, originOf(request.url)),
      started.map((s) => s.id),
    );
  },
});

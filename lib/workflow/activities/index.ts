/**
 * The activities of `investigateSnat` (and `listNodes` and `notifyCensus`, of `investigateCluster`), by name
 * (lib/workflow/contracts.ts). One file per activity, named as it is registered; the Functions app registers the same
 * functions with `df.app.activity`.
 */
import type { ActivityFunction } from '../driver.js';
import type { ActivityContext } from '../context.js';
import { ACTIVITIES } from '../contracts.js';
import type { ActivityName } from '../contracts.js';
import { censusPods } from './censusPods.js';
import { checkCapture } from './checkCapture.js';
import { collectCapture } from './collectCapture.js';
import { deleteCapture } from './deleteCapture.js';
import { listNodes } from './listNodes.js';
import { listPods } from './listPods.js';
import { notifyCensus } from './notifyCensus.js';
import { notifyReport } from './notifyReport.js';
import { resolveTarget } from './resolveTarget.js';
import { startCapture } from './startCapture.js';
import { writeReport } from './writeReport.js';

export const INVESTIGATION_ACTIVITIES: Readonly<Record<ActivityName, ActivityFunction<ActivityContext>>> =
  Object.freeze({
    [ACTIVITIES.resolveTarget]: resolveTarget,
    [ACTIVITIES.startCapture]: startCapture,
    [ACTIVITIES.checkCapture]: checkCapture,
    [ACTIVITIES.listPods]: listPods,
    [ACTIVITIES.censusPods]: censusPods,
    [ACTIVITIES.collectCapture]: collectCapture,
    [ACTIVITIES.deleteCapture]: deleteCapture,
    [ACTIVITIES.writeReport]: writeReport,
    [ACTIVITIES.notifyReport]: notifyReport,
    [ACTIVITIES.listNodes]: listNodes,
    [ACTIVITIES.notifyCensus]: notifyCensus,
  });

/** Activities that still run after the investigation is cancelled. */
export const CLEANUP_ACTIVITIES: readonly ActivityName[] = [ACTIVITIES.deleteCapture];

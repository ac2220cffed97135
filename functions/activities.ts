/** The investigation's activities (lib/workflow/activities/), registered under their names; nothing else here. */
import df from 'durable-functions';
import { INVESTIGATION_ACTIVITIES } from '../lib/workflow/activities/index.js';
import { activityHandler } from '../lib/workflow/activity-host.js';
import { appSecrets } from '../lib/serve/handler-kit.js';

for (const [name, fn] of Object.entries(INVESTIGATION_ACTIVITIES)) {
  df.app.activity(name, { handler: activityHandler(name, fn, { secrets: () => appSecrets() }) });
}

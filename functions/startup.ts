/**
 * The Functions app's startup: the production `ActivityContextFactory` (lib/azure/activity-factory.ts), built on the
 * first activity from the app settings and the app's identity, and the report store the status endpoint signs its
 * links with. Importing this module reads no setting and makes no request.
 *
 * The identity: `DefaultAzureCredential`, pinned to the user-assigned managed identity named by AZURE_CLIENT_ID (the
 * Function App setting infra/ sets); it is constructed on the first token request only.
 */
import { DefaultAzureCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import { azureActivityFactory, reportStoreOf } from '../lib/azure/activity-factory.js';
import type { BlobReportStore } from '../lib/azure/blob-store.js';
import { loadSettings } from '../lib/config/settings.js';
import type { Settings } from '../lib/config/settings.js';
import { lazyActivityContextFactory, setActivityContextFactory } from '../lib/workflow/activity-host.js';

let identity: DefaultAzureCredential | null = null;

export const appCredential: TokenCredential = {
  getToken: (scopes, options) =>
    (identity ??= new DefaultAzureCredential({ managedIdentityClientId: process.env.AZURE_CLIENT_ID })).getToken(
      scopes,
      options,
    ),
};

const stores = new WeakMap<Settings, BlobReportStore>();

/** The report store of these settings, built once (settings are read once per process). */
export function appReportStore(settings: Settings): BlobReportStore {
  let store = stores.get(settings);
  if (store === undefined) {
    store = reportStoreOf(settings, appCredential);
    stores.set(settings, store);
  }
  return store;
}

setActivityContextFactory(
  lazyActivityContextFactory(() => azureActivityFactory({ settings: loadSettings(), credential: appCredential })),
);

/**
 * `kind: Status` failures shaped like the API server's (k8s.io/apimachinery/pkg/api/errors): the HTTP code, a reason,
 * the message kubectl prints after `Error from server (Reason):`, and details naming the object.
 */

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: Array<{ reason?: string; message: string; field?: string }>;
  retryAfterSeconds?: number;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** Resource as the API names it in messages: `pods`, `jobs.batch`, `replicasets.apps`. */
export interface Resource {
  readonly plural: string;
  readonly group: string;
}

const qualified = (r: Resource) => (r.group === '' ? r.plural : `${r.plural}.${r.group}`);

export const notFound = (r: Resource, name: string): ApiError =>
  new ApiError(404, 'NotFound', `${qualified(r)} "${name}" not found`, {
    name,
    ...(r.group !== '' ? { group: r.group } : {}),
    kind: r.plural,
  });

export const alreadyExists = (r: Resource, name: string): ApiError =>
  new ApiError(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, {
    name,
    ...(r.group !== '' ? { group: r.group } : {}),
    kind: r.plural,
  });

export const badRequest = (message: string): ApiError => new ApiError(400, 'BadRequest', message);

export const invalid = (
  kind: string,
  group: string,
  name: string,
  causes: Array<{ field: string; message: string; reason: string }>,
): ApiError =>
  new ApiError(
    422,
    'Invalid',
    `${kind}${group ? `.${group}` : ''} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
    { name, ...(group ? { group } : {}), kind, causes },
  );

export const forbidden = (
  r: Resource,
  subresource: string,
  name: string,
  namespace: string,
  user: string,
  verb: string,
): ApiError =>
  new ApiError(
    403,
    'Forbidden',
    `${qualified(r)} "${name}" is forbidden: User "${user}" cannot ${verb} resource "${r.plural}${subresource ? `/${subresource}` : ''}" in API group "${r.group}" in the namespace "${namespace}"`,
    { name, ...(r.group !== '' ? { group: r.group } : {}), kind: r.plural },
  );

export const unauthorized = (): ApiError => new ApiError(401, 'Unauthorized', 'Unauthorized');

export const pathNotFound = (): ApiError =>
  new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});

export const methodNotAllowed = (method: string): ApiError =>
  new ApiError(
    405,
    'MethodNotAllowed',
    `the server does not allow this method on the requested resource (${method})`,
    {},
  );

export const tooManyRequests = (): ApiError =>
  new ApiError(
    429,
    'TooManyRequests',
    'Too many requests, please try again later.',
    { retryAfterSeconds: 1 },
    { 'Retry-After': '1' },
  );

export const internalError = (message: string): ApiError =>
  new ApiError(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });

export const RESOURCES = {
  pods: { plural: 'pods', group: '' },
  nodes: { plural: 'nodes', group: '' },
  namespaces: { plural: 'namespaces', group: '' },
  events: { plural: 'events', group: '' },
  jobs: { plural: 'jobs', group: 'batch' },
  cronjobs: { plural: 'cronjobs', group: 'batch' },
  replicasets: { plural: 'replicasets', group: 'apps' },
  deployments: { plural: 'deployments', group: 'apps' },
  daemonsets: { plural: 'daemonsets', group: 'apps' },
  statefulsets: { plural: 'statefulsets', group: 'apps' },
} as const satisfies Record<string, Resource>;

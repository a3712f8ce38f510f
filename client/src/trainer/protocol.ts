// The trainer protocol's frames as TypeScript types, and the validators of both directions compiled
// once from schemas/trainer-protocol.schema.json (the contract the Python server checks too).
import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import protocolSchema from '../../../schemas/trainer-protocol.schema.json';

import type {
  ClientMessage,
  JobEvent,
  JobSummary,
  ServerError,
  ServerEvent,
  ServerExportDone,
  ServerHealthReport,
  ServerMessage,
  ServerWelcome,
} from './protocol.generated';

export type { JobEvent, JobSummary } from './protocol.generated';
export { JOB_STATES } from './protocol.generated';

export const PROTOCOL_VERSION = 1;

// The frames' types are generated from the schema (protocol.generated.ts, `npm run gen:protocol`);
// these are the names the client uses for them.
export type ServerJobState = JobSummary['state'];
/** Where a job runs or last ran (the server's executor, node and GPUs). */
export type JobPlacement = NonNullable<JobSummary['placement']>;
/** One entry of a job's event log: a union over `type`, each with the fields of that event. */
export type JobEventOf<T extends JobEvent['type']> = Extract<JobEvent, { type: T }>;
export type ServerLimits = ServerWelcome['limits'];
export type WelcomeFrame = ServerWelcome;
export type HealthReport = ServerHealthReport;
export type EventFrame = ServerEvent;
export type ErrorFrame = ServerError;
export type ExportDoneFrame = ServerExportDone;
/** Every server frame: the schema has checked it before any code reads a field. */
export type ServerFrame = ServerMessage;
/** A client frame: `type` and `id` plus the fields of that request. */
export type ClientFrame = ClientMessage;
/** A client request before the connection gives it an id. */
export type ClientRequest = ClientMessage extends infer M ? (M extends { id: string } ? Omit<M, 'id'> : never) : never;
export type ClientRequestOf<T extends ClientRequest['type']> = Extract<ClientRequest, { type: T }>;

const SCHEMA_ID = (protocolSchema as { $id: string }).$id;
const DEFINITIONS = (protocolSchema as { definitions: Record<string, unknown> }).definitions;
let ajvInstance: Ajv | undefined;

function definition(name: string): ValidateFunction {
  if (ajvInstance === undefined) {
    ajvInstance = new Ajv({ strict: true, allowUnionTypes: true });
    addFormats(ajvInstance);
    ajvInstance.addSchema(protocolSchema);
  }
  const validate = ajvInstance.getSchema(`${SCHEMA_ID}#/definitions/${name}`);
  if (validate === undefined) throw new Error(`the trainer protocol schema has no ${name}`);
  return validate;
}

/** Why a frame breaks the contract; the definition of its own type names the field, a oneOf would not. */
function problemOf(frame: unknown, direction: 'server' | 'client'): string {
  const type = typeof frame === 'object' && frame !== null ? (frame as { type?: unknown }).type : undefined;
  const name = `${direction}_${String(type)}`;
  if (typeof type !== 'string' || !Object.hasOwn(DEFINITIONS, name)) {
    return `unknown ${direction} frame type ${JSON.stringify(type)?.slice(0, 64) ?? 'undefined'}`;
  }
  const validate = definition(name);
  validate(frame);
  const error = validate.errors?.[0];
  if (error === undefined) return `${type}: does not match the schema`;
  return `${type}: ${error.instancePath || '(frame)'} ${error.message ?? 'is invalid'}`.slice(0, 300);
}

/** The frame if it is a valid server message, else why not (for the log; the frame is dropped). */
export function checkServerFrame(frame: unknown): { frame: ServerFrame } | { problem: string } {
  if (definition('serverMessage')(frame)) return { frame: frame as ServerFrame };
  return { problem: problemOf(frame, 'server') };
}

/** Throws when the client is about to send a frame that breaks the contract: a bug on this side. */
export function assertClientFrame(frame: ClientFrame): void {
  if (!definition('clientMessage')(frame)) {
    throw new Error(`bug: outgoing frame breaks the trainer protocol: ${problemOf(frame, 'client')}`);
  }
}

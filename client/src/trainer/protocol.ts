// The trainer protocol's frames as TypeScript types, and the validators of both directions compiled
// once from schemas/trainer-protocol.schema.json (the contract the Python server checks too).
import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import protocolSchema from '../../../schemas/trainer-protocol.schema.json';

export const PROTOCOL_VERSION = 1;

export type ServerJobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobSummary {
  job_id: string;
  state: ServerJobState;
  reason: string | null;
  created: number;
  name: string;
  base_model: string;
  method: string;
  last_seq: number;
  /** For a queued job, how many queued jobs start before it (0: next); null otherwise. */
  queue_position?: number | null;
  placement?: JobPlacement;
}

/** Where a job runs or last ran (the server's executor, node and GPUs). */
export interface JobPlacement {
  executor: 'local' | 'ray';
  node: string | null;
  gpus: string[];
  processes?: number;
  submission_id?: string;
  status?: string;
}

/** One entry of a job's event log (trainer or server event); the fields depend on `type`. */
export interface JobEvent {
  type:
    | 'start'
    | 'log'
    | 'eval'
    | 'eval_start'
    | 'progress'
    | 'eval_done'
    | 'checkpoint'
    | 'done'
    | 'cancelled'
    | 'oom'
    | 'error'
    | 'queued'
    | 'launched'
    | 'ended'
    | 'download';
  time: number;
  [field: string]: unknown;
}

export interface ServerLimits {
  max_message_bytes: number;
  max_upload_bytes: number;
  upload_chunk_bytes: number;
  adapter_chunk_bytes: number;
}

export interface WelcomeFrame {
  type: 'welcome';
  id: string;
  server: 'modelfactory-trainer';
  server_version: string;
  protocol: number;
  limits: ServerLimits;
}

export interface HealthReport {
  type: 'health_report';
  id: string;
  versions: Record<string, string | null>;
  cuda: { available: boolean; version: string | null };
  gpus: { index: number; name: string; free_gb: number; total_gb: number }[];
  probe_error?: string | null;
  jobs: { queued: number; running: string | null };
}

export interface EventFrame {
  type: 'event';
  job_id: string;
  seq: number;
  event: JobEvent;
}

export interface ErrorFrame {
  type: 'error';
  id: string | null;
  code: string;
  message: string;
}

/** Every server frame: the schema has checked it before any code reads a field. */
export type ServerFrame =
  | WelcomeFrame
  | HealthReport
  | EventFrame
  | ErrorFrame
  | { type: 'upload_ready'; id: string; upload_id: string; chunk_bytes: number }
  | { type: 'upload_ack'; id: string; upload_id: string; received: number }
  | { type: 'upload_done'; id: string; upload_id: string; name: string; size: number; sha256: string }
  | { type: 'submitted'; id: string; job: JobSummary }
  | { type: 'job_list'; id: string; jobs: JobSummary[] }
  | { type: 'watching'; id: string; job: JobSummary; from_seq: number }
  | { type: 'ack'; id: string; job_id?: string; state?: ServerJobState }
  | { type: 'adapter_file'; id: string; job_id: string; name: string; size: number; sha256: string }
  | { type: 'adapter_chunk'; id: string; name: string; offset: number; data: string }
  | { type: 'adapter_end'; id: string; job_id: string; files: Record<string, string>; sha256: string }
  | { type: 'chat_token'; id: string; text: string }
  | {
      type: 'chat_done';
      id: string;
      tokens: number;
      time_to_first_token_ms: number;
      tokens_per_second: number;
      finish_reason: 'stop' | 'length' | 'cancelled';
    }
  | { type: 'chat_error'; id: string; code: string; message: string }
  | { type: 'export_progress'; id: string; stage: string; fraction: number; message: string }
  | ExportDoneFrame;

export interface ExportDoneFrame {
  type: 'export_done';
  id: string;
  job_id: string;
  name: string;
  /** On the server's machine, under its exports folder. */
  path: string;
  merged: boolean;
  files: string[];
  template_converted: boolean;
  template_note: string | null;
}

/** A client frame: `type` and `id` plus the fields of that request. */
export interface ClientFrame {
  type: string;
  id: string;
  [field: string]: unknown;
}

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

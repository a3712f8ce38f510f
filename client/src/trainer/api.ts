// The contract between the trainer connection (protocol client, local server, job tracking) and its
// consumers on the extension host (commands, the jobs tree, the dashboard and playground hosts).
// Pure types: no `vscode` import, so the connection is testable in plain Node.
import type { ChatParams, JobSummary } from './protocol.generated';

export type { ChatParams } from './protocol.generated';

/** Where jobs run: the local server this extension starts on loopback, or a named remote endpoint. */
export interface TargetRef {
  /** 'local', a remote endpoint's name from `modelfactory.trainer.endpoints`, or `openai:<name>` (playground only). */
  id: string;
  label: string;
  kind: 'local' | 'remote' | 'openai';
}

/** A job's state, as the trainer protocol's schema names them (jobSummary.state). */
export type JobState = JobSummary['state'];

/** One point of a job's curves, from a `log` or `eval` event. Missing values are null. */
export interface JobPoint {
  step: number;
  time: number;
  epoch: number | null;
  loss: number | null;
  evalLoss: number | null;
  learningRate: number | null;
  tokensPerSecond: number | null;
  gpuMemoryGb: number | null;
  /** Preference objectives (dpo, orpo, kto): TRL's mean reward margin (chosen minus rejected) and accuracy. */
  rewardMargin?: number | null;
  rewardAccuracy?: number | null;
}

/** A job as the client knows it: the server's summary folded with every event seen, in seq order. */
export interface JobView {
  target: string;
  jobId: string;
  name: string;
  baseModel: string;
  method: string;
  state: JobState;
  /** Why it failed or was cancelled (the server's reason, or the trainer's error/oom message). */
  reason: string | null;
  created: number;
  ended: number | null;
  step: number;
  totalSteps: number | null;
  etaSeconds: number | null;
  device: string | null;
  precision: string | null;
  points: JobPoint[];
  /** Human-readable event lines, newest last, capped. */
  logs: string[];
  /** The seq of the last event applied; the next watch resumes from lastSeq + 1. */
  lastSeq: number;
  /** Set once the adapter has been downloaded into the workspace and its sha256 checked. */
  adapterDir: string | null;
  /** For a queued job, how many queued jobs start before it (0: next); null otherwise. */
  queuePosition: number | null;
  /** Where the job runs or ran: the executor (local, ray), the node and the GPUs it was given. */
  placement: JobPlacementView | null;
  /** The base model's download from the Hub while it runs (the trainer's `download` events), else null. */
  download: HubDownloadProgress | null;
  /** Where the trainer writes TensorBoard's event files (training.report_to: tensorboard), on its machine. */
  tensorboardDir: string | null;
}

export interface JobPlacementView {
  executor: 'local' | 'ray';
  node: string | null;
  gpus: string[];
  /** ray: the Ray job's status (PENDING while the cluster lacks the resources). */
  status: string | null;
}

export interface HubDownloadProgress {
  repo: string;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number | null;
  etaSeconds: number | null;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}


export interface ChatRequest {
  /** null: the base model of the adapter job's config. */
  base: string | null;
  adapterJobId: string | null;
  messages: ChatMessage[];
  system: string | null;
  params: ChatParams;
}

export interface ChatResult {
  tokens: number;
  timeToFirstTokenMs: number;
  tokensPerSecond: number;
  finishReason: 'stop' | 'length' | 'cancelled';
}

export interface Disposable {
  dispose(): void;
}

// Starts the real language server bundle (dist/server/server.js) over stdio and talks JSON-RPC to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type Diagnostic,
  type ProtocolConnection,
  type PublishDiagnosticsParams,
} from 'vscode-languageserver-protocol/node';

export const ROOT = resolve(__dirname, '..', '..');
const SERVER = resolve(ROOT, 'dist', 'server', 'server.js');

export interface ServerHandle {
  connection: ProtocolConnection;
  process: ChildProcess;
  /** The next diagnostics published for `uri` (after `afterVersion`, when given). */
  diagnostics(uri: string, afterVersion?: number): Promise<PublishDiagnosticsParams>;
  stderr(): string;
  stop(): Promise<void>;
}

export function fileUri(path: string): string {
  return pathToFileURL(path).toString();
}

export async function startServer(settings: Record<string, unknown> = {}): Promise<ServerHandle> {
  if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run npm run build first`);
  const child = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const connection = createProtocolConnection(
    new StreamMessageReader(child.stdout!),
    new StreamMessageWriter(child.stdin!),
  );
  const latest = new Map<string, PublishDiagnosticsParams>();
  const waiters: { uri: string; after: number; resolve: (p: PublishDiagnosticsParams) => void }[] = [];
  connection.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
    latest.set(p.uri, p);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.uri === p.uri && (p.version ?? Number.MAX_SAFE_INTEGER) > w.after) {
        waiters.splice(i, 1);
        w.resolve(p);
      }
    }
  });
  connection.onRequest('workspace/configuration', () => [settings]);
  connection.onRequest('window/workDoneProgress/create', () => null);
  connection.onNotification('window/logMessage', (m: { message: string }) => {
    stderr += m.message + '\n';
  });
  connection.listen();
  await connection.sendRequest('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: { workspace: { configuration: true }, window: { workDoneProgress: true } },
    initializationOptions: { settings },
  });
  await connection.sendNotification('initialized', {});
  return {
    connection,
    process: child,
    diagnostics(uri, afterVersion = -1) {
      return new Promise((resolvePromise, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no diagnostics for ${uri} after v${afterVersion}\n${stderr}`)),
          20_000,
        );
        waiters.push({
          uri,
          after: afterVersion,
          resolve: (p) => {
            clearTimeout(timer);
            resolvePromise(p);
          },
        });
      });
    },
    stderr: () => stderr,
    async stop() {
      try {
        await connection.sendRequest('shutdown');
        await connection.sendNotification('exit');
      } catch {
        // the process may already be gone
      }
      connection.dispose();
      child.kill();
    },
  };
}

export function byRule(diagnostics: Diagnostic[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const d of diagnostics) {
    const rule = String(d.code);
    out.set(rule, [...(out.get(rule) ?? []), d.range.start.line]);
  }
  return out;
}

export async function open(server: ServerHandle, path: string, text: string, languageId = 'jsonl', version = 1) {
  const uri = fileUri(path);
  const published = server.diagnostics(uri, version - 1);
  await server.connection.sendNotification('textDocument/didOpen', {
    textDocument: { uri, languageId, version, text },
  });
  return { uri, diagnostics: (await published).diagnostics };
}

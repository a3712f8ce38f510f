// The LSP shell: wires the connection to the language-service core. Handlers look a document up,
// call the core, convert, return. Every handler answers a result or an error; none may crash the
// process, so each is wrapped.
import {
  CodeActionKind,
  createConnection,
  ProposedFeatures,
  TextDocumentSyncKind,
  type CodeAction as LspCodeAction,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { DocumentIndex } from './documentIndex';
import { nodeEnvironment } from './nodeFs';
import { nodeServiceHost } from './parallel/serviceHost';
import {
  DatasetStatsRequest,
  HubLedgerNotification,
  HardestRecordsRequest,
  type HardestRecordsParams,
  ImportConfigRequest,
  MemoryEstimateRequest,
  ValidateFileRequest,
  parseHubLedger,
  type DatasetStatsParams,
  type ImportConfigParams,
  type ImportConfigResult,
  type MemoryEstimateParams,
  type ValidateFileParams,
} from './protocol';
import { importConfigFile } from './core/config/importConfig';
import { hardestRecords } from './core/dataset/hardestRecords';
import { toCoreSettings } from './settingsSchema';
import { DEFAULT_SETTINGS } from './core/settings';
import { ModelFactoryService } from './core/service';
import type { Finding } from './core/types';
import { toDiagnostic } from './convert';

const connection = createConnection(ProposedFeatures.all);
const logError = (msg: string) => connection.console.error(msg);
const service = new ModelFactoryService(nodeEnvironment(), DEFAULT_SETTINGS, { ...nodeServiceHost(), logError });
const documents = new DocumentIndex(service, publish, logError);
let canPullConfiguration = false;

function publish(uri: string, version: number, findings: Finding[]): void {
  void connection.sendDiagnostics({ uri, version, diagnostics: findings.map((f) => toDiagnostic(f, uri)) });
}

/** Runs a handler; an exception becomes a logged error and an empty answer instead of a crash. */
function guarded<P, R>(name: string, fallback: R, handler: (params: P) => Promise<R> | R): (params: P) => Promise<R> {
  return async (params: P) => {
    try {
      return await handler(params);
    } catch (err) {
      connection.console.error(`${name} failed: ${(err as Error)?.stack ?? String(err)}`);
      return fallback;
    }
  };
}

connection.onInitialize((params): InitializeResult => {
  canPullConfiguration = !!params.capabilities.workspace?.configuration;
  const init = params.initializationOptions as { settings?: unknown } | undefined;
  if (init?.settings) service.updateSettings(toCoreSettings(init.settings));
  return {
    capabilities: {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental, save: { includeText: false } },
      hoverProvider: true,
      completionProvider: { triggerCharacters: [':', ' ', '-', '/', '['] },
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, CodeActionKind.SourceFixAll] },
      documentSymbolProvider: true,
    },
    serverInfo: { name: 'modelfactory-language-server', version: '0.1.0' },
  };
});

connection.onInitialized(() => {
  void refreshSettings();
});

async function refreshSettings(): Promise<void> {
  if (!canPullConfiguration) return;
  try {
    const section: unknown = await connection.workspace.getConfiguration('modelfactory');
    service.updateSettings(toCoreSettings(section));
    await documents.revalidateAll();
  } catch (err) {
    connection.console.error(`Reading settings failed: ${String(err)}`);
  }
}

connection.onDidChangeConfiguration((change) => {
  const settings = (change.settings as { modelfactory?: unknown } | undefined)?.modelfactory;
  if (settings !== undefined) {
    service.updateSettings(toCoreSettings(settings));
    void documents.revalidateAll();
  } else void refreshSettings();
});

connection.onDidOpenTextDocument(
  guarded('didOpen', undefined, (p) =>
    documents.open(p.textDocument.uri, p.textDocument.languageId, p.textDocument.version, p.textDocument.text),
  ),
);
connection.onDidChangeTextDocument(
  guarded('didChange', undefined, (p) =>
    documents.change(p.textDocument.uri, p.textDocument.version, p.contentChanges),
  ),
);
connection.onDidCloseTextDocument(
  guarded('didClose', undefined, (p) => {
    documents.close(p.textDocument.uri);
    void connection.sendDiagnostics({ uri: p.textDocument.uri, diagnostics: [] });
  }),
);
connection.onDidSaveTextDocument(guarded('didSave', undefined, (p) => documents.saved(p.textDocument.uri)));
connection.onDidChangeWatchedFiles(guarded('watchedFiles', undefined, () => documents.revalidateAll()));
connection.onNotification(
  HubLedgerNotification,
  guarded('hubLedger', undefined, (p: unknown) => {
    const entries = parseHubLedger(p);
    if (!entries) {
      connection.console.error('Refused a malformed modelfactory/hubLedger notification');
      return;
    }
    service.datanets.setHubLedger(entries);
    void documents.revalidateAll();
  }),
);

connection.onHover(guarded('hover', null, (p) => documents.hover(p.textDocument.uri, p.position)));
connection.onCompletion(guarded('completion', [], (p) => documents.complete(p.textDocument.uri, p.position)));
connection.onDocumentSymbol(guarded('documentSymbol', [], (p) => documents.symbols(p.textDocument.uri)));
connection.onCodeAction(
  guarded('codeAction', [] as LspCodeAction[], (p) =>
    documents.codeActions(p.textDocument.uri, p.range, p.context.diagnostics, p.context.only),
  ),
);

connection.onRequest(
  DatasetStatsRequest,
  guarded('datasetStats', null, async (p: DatasetStatsParams) => {
    // Exact token counts of a large document take a while the first time: show how far they are.
    let progress: ReturnType<typeof connection.window.createWorkDoneProgress> | undefined;
    try {
      return await documents.datasetStats(p.uri, (done, total) => {
        if (total < 2000) return;
        progress ??= connection.window.createWorkDoneProgress().then((r) => {
          r.begin('ModelFactory: counting tokens', 0, undefined, false);
          return r;
        });
        void progress.then((r) => r.report(Math.floor((100 * done) / total), `${done}/${total} records`));
      });
    } finally {
      void progress?.then((r) => r.done());
    }
  }),
);
connection.onRequest(
  MemoryEstimateRequest,
  guarded('memoryEstimate', null, (p: MemoryEstimateParams) => documents.memoryEstimate(p.uri, p.version)),
);
connection.onRequest(
  ImportConfigRequest,
  guarded(
    'importConfig',
    { ok: false, message: 'the import failed: see the ModelFactory log' } as ImportConfigResult,
    (p: ImportConfigParams) => {
      if (typeof p?.text !== 'string') return { ok: false, message: 'no config text was sent' } as ImportConfigResult;
      const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
      return importConfigFile(service.env, p.text, {
        sourcePath: str(p.sourcePath),
        cwd: str(p.cwd),
        outputDir: str(p.outputDir),
      });
    },
  ),
);
connection.onRequest(
  HardestRecordsRequest,
  guarded('hardestRecords', null, (p: HardestRecordsParams) => {
    const roots = Array.isArray(p?.roots) ? p.roots.filter((r) => typeof r === 'string' && r.startsWith('/')) : [];
    const sort = p?.sort === 'delta' ? 'delta' : 'loss';
    const limit = typeof p?.limit === 'number' && Number.isInteger(p.limit) && p.limit > 0 ? p.limit : undefined;
    return hardestRecords(service.env, roots.slice(0, 16), (path) => documents.linesOf(path), sort, limit);
  }),
);
connection.onRequest(ValidateFileRequest, async (p: ValidateFileParams) => {
  const progress = await connection.window.createWorkDoneProgress();
  try {
    return await documents.validateFileOnDisk(p, (done, total) => {
      progress.report(total > 0 ? Math.floor((100 * done) / total) : 0, `${(done / 1e6).toFixed(0)} MB`);
    });
  } finally {
    progress.done();
  }
});

process.on('uncaughtException', (err) => connection.console.error(`Uncaught: ${err.stack ?? String(err)}`));
process.on('unhandledRejection', (err) => connection.console.error(`Unhandled rejection: ${String(err)}`));

connection.listen();

// "ModelFactory: Export Adapter": a done job's adapter exported on its trainer (the `export` protocol
// message): merged into its base as a Hugging Face model folder, an Ollama Modelfile, GGUF when the server has
// llama.cpp. Options in a QuickPick, the folder name in an input box, progress in a notification. The export
// lands in the server's exports folder (on the local trainer, this machine).
import * as vscode from 'vscode';
import type { JobManager } from './jobs/jobManager';
import type { JobRef } from './jobs/describe';
import { EXPORT_NAME, defaultExportName } from './jobs/exportName';

interface ExportDeps {
  jobs: JobManager;
  log: vscode.LogOutputChannel;
  requireTrust(): void;
  pickJob(arg: unknown): Promise<JobRef | undefined>;
}

export async function exportAdapterCommand(arg: unknown, deps: ExportDeps): Promise<string | undefined> {
  deps.requireTrust();
  const ref = await deps.pickJob(arg);
  if (!ref) return undefined;
  const job = deps.jobs.jobs(ref.target).find((j) => j.jobId === ref.jobId);
  const picks = await vscode.window.showQuickPick(
    [
      {
        label: 'Merge into the base model',
        detail: 'A standard Hugging Face model folder (merge_and_unload; a QLoRA adapter into the bf16 base)',
        id: 'merge',
        picked: true,
      },
      {
        label: 'Ollama Modelfile',
        detail: 'TEMPLATE from the chat template, SYSTEM, stop tokens',
        id: 'ollama',
        picked: true,
      },
      {
        label: 'GGUF',
        detail: "With llama.cpp's converter (the trainer needs --llama-cpp); implies a merge",
        id: 'gguf',
      },
    ],
    { title: `ModelFactory: Export Adapter of ${job?.name ?? ref.jobId}`, canPickMany: true, ignoreFocusOut: true },
  );
  if (!picks) return undefined;
  const chosen = new Set(picks.map((p) => p.id));
  const name = await vscode.window.showInputBox({
    title: 'ModelFactory: Export Adapter: folder name',
    prompt: "The export's folder in the trainer's exports folder",
    value: defaultExportName(job?.name ?? '', ref.jobId),
    validateInput: (v) => (EXPORT_NAME.test(v) ? undefined : 'Letters, digits, "_" and "-" (at most 64).'),
    ignoreFocusOut: true,
  });
  if (!name) return undefined;
  const done = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `ModelFactory: exporting ${name}`, cancellable: false },
    async (progress) => {
      let reported = 0;
      return deps.jobs.exportAdapter(
        ref.target,
        {
          jobId: ref.jobId,
          name,
          merge: chosen.has('merge'),
          ollama: chosen.has('ollama'),
          gguf: chosen.has('gguf'),
          system: null,
        },
        (fraction, message) => {
          const percent = Math.round(fraction * 100);
          progress.report({ message, increment: Math.max(0, percent - reported) });
          reported = Math.max(reported, percent);
        },
      );
    },
  );
  deps.log.info(`[${ref.target}] exported ${ref.jobId} to ${done.path}: ${done.files.join(', ')}`);
  const note = done.template_converted ? '' : ` The Modelfile has no TEMPLATE: ${done.template_note ?? ''}`;
  const where = ref.target === 'local' ? done.path : `${done.path} on ${ref.target}`;
  const actions = ref.target === 'local' ? ['Reveal', 'Copy Path'] : ['Copy Path'];
  void vscode.window.showInformationMessage(`ModelFactory: exported to ${where}.${note}`, ...actions).then((choice) => {
    if (choice === 'Reveal') void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(done.path));
    if (choice === 'Copy Path') void vscode.env.clipboard.writeText(done.path);
  });
  return done.path;
}

// "Open TensorBoard" for a job that reports to it (training.report_to: tensorboard): the trainer writes
// the event files to <output_dir>/tensorboard on its own machine. ModelFactory starts no TensorBoard
// process itself (it would serve on a port the editor does not control): it reveals the folder of a
// local job and copies the command that serves it; for a remote job it says where the files are.
import { access } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { JobView } from '../trainer/api';

/** The shell command that serves a folder with TensorBoard, quoted for POSIX shells and PowerShell alike. */
export function tensorboardCommand(logDir: string): string {
  return `tensorboard --logdir '${logDir.replace(/'/g, "''")}'`;
}

export async function showTensorBoard(job: JobView): Promise<void> {
  const dir = job.tensorboardDir;
  if (dir === null) {
    void vscode.window.showInformationMessage(
      `ModelFactory: ${job.name} writes no TensorBoard files: set training.report_to: tensorboard in its config.`,
    );
    return;
  }
  const command = tensorboardCommand(dir);
  const local =
    job.target === 'local' &&
    (await access(dir).then(
      () => true,
      () => false,
    ));
  const choice = local
    ? await vscode.window.showInformationMessage(
        `ModelFactory: TensorBoard's files for ${job.name} are in ${dir}. Serve them with: ${command}`,
        'Reveal Folder',
        'Copy Command',
      )
    : await vscode.window.showInformationMessage(
        `ModelFactory: TensorBoard's files for ${job.name} are on ${job.target} at ${dir}. Run there: ${command}`,
        'Copy Command',
      );
  if (choice === 'Reveal Folder') await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(dir));
  if (choice === 'Copy Command') await vscode.env.clipboard.writeText(command);
}

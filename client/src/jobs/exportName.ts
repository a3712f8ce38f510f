// Export folder names the trainer accepts (the `name` pattern of the `export` message): pure, unit tested.
export const EXPORT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** A folder name the server accepts, from the job's name and id. */
export function defaultExportName(jobName: string, jobId: string): string {
  const slug = jobName
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, 40);
  const name = `${slug || 'model'}-${jobId.replace(/[^A-Za-z0-9_-]/g, '')}`.slice(0, 64);
  return EXPORT_NAME.test(name) ? name : 'model';
}

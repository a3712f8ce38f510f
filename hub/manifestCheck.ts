// A manifest sent to the hub is checked by the core's own manifest validation (`datanet/manifest`,
// the same as the editor and `modelfactory lint`), laid out in a private folder with its record schema.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { asManifest, type DatanetManifest } from '../server/src/core/datanet/manifest';
import { ModelFactoryService } from '../server/src/core/service';
import { DEFAULT_SETTINGS } from '../server/src/core/settings';
import { nodeEnvironment } from '../server/src/nodeFs';

export const MAX_MANIFEST_CHARS = 256 * 1024;

export async function checkManifest(
  text: string,
  recordSchema: string | null,
  workDir: string,
): Promise<{ manifest?: DatanetManifest; findings: { line: number; rule: string; message: string }[] }> {
  if (text.length > MAX_MANIFEST_CHARS) {
    return {
      findings: [
        { line: 0, rule: 'datanet/manifest', message: `the manifest is longer than ${MAX_MANIFEST_CHARS} characters` },
      ],
    };
  }
  await mkdir(workDir, { recursive: true });
  try {
    let data: unknown;
    try {
      data = parseYaml(text);
    } catch (err) {
      return { findings: [{ line: 0, rule: 'datanet/manifest', message: (err as Error).message }] };
    }
    const schemaName = asManifest(data)?.record_schema;
    if (schemaName !== undefined) {
      if (recordSchema === null) {
        return {
          findings: [
            {
              line: 0,
              rule: 'datanet/manifest',
              message: `record_schema ${schemaName} was not sent with the manifest`,
            },
          ],
        };
      }
      // What the client names cannot reach outside the private folder.
      const rel = schemaName.replace(/\\/g, '/');
      if (rel.startsWith('/') || rel.split('/').includes('..')) {
        return {
          findings: [
            {
              line: 0,
              rule: 'datanet/manifest',
              message: `record_schema must be a path inside the manifest's folder, not ${schemaName}`,
            },
          ],
        };
      }
      await mkdir(dirname(join(workDir, rel)), { recursive: true });
      await writeFile(join(workDir, rel), recordSchema);
    }
    const path = join(workDir, 'datanet.yaml');
    await writeFile(path, text);
    const service = new ModelFactoryService(nodeEnvironment(), { ...DEFAULT_SETTINGS });
    const findings = await service.validateManifest({ uri: `file://${path}`, version: 1, getText: () => text }, path);
    const errors = findings.filter((f) => f.severity === 'error' && !/tokenizer/i.test(f.message));
    if (errors.length > 0) {
      return { findings: errors.map((f) => ({ line: f.range.start.line + 1, rule: f.rule, message: f.message })) };
    }
    const manifest = asManifest(data);
    return manifest
      ? { manifest, findings: [] }
      : { findings: [{ line: 0, rule: 'datanet/manifest', message: 'not a manifest' }] };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

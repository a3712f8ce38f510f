// Validation of a `datanet.yaml` document: YAML syntax, the manifest schema (with exact ranges and
// did-you-mean for unknown keys), and the files it points at.
import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import datanetSchema from '../../../../schemas/datanet.schema.json';
import { dirName, joinPath, isAbsolutePath } from '../hfCache';
import { compileRecordSchema } from '../dataset/recordSchema';
import { readChecked, type Environment } from '../io';
import { manifestTokenizerFindings } from '../tokenizerCheck';
import type { Finding, Severity } from '../types';
import { filterSuppressed, rangeOfPath, syntaxFindings, validateYaml } from '../yaml';
import type { ParsedYaml } from '../yaml';
import { checkGlob } from './glob';
import { asManifest } from './manifest';

const RULE = 'datanet/manifest';
let compiled: ValidateFunction | undefined;

function manifestValidator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: false }).compile(datanetSchema);
  return compiled;
}

export async function validateManifest(
  parsed: ParsedYaml,
  manifestPath: string,
  env: Environment,
  severityOf: (rule: string) => Severity | undefined,
): Promise<Finding[]> {
  const severity = severityOf(RULE);
  if (!severity) return [];
  const findings = syntaxFindings(parsed, RULE, severity);
  findings.push(...validateYaml(parsed, manifestValidator(), { ruleFor: () => RULE, severityOf }));
  const manifest = findings.length === 0 ? asManifest(parsed.data) : undefined;
  if (manifest?.record_schema) {
    const dir = dirName(manifestPath);
    const schemaPath = isAbsolutePath(manifest.record_schema)
      ? manifest.record_schema
      : joinPath(dir, manifest.record_schema);
    // Confined to the manifest's folder: a schema elsewhere (/etc/passwd, /proc/self/environ) is never read.
    const read = await readChecked(env, schemaPath, 'schema', dir);
    const range = rangeOfPath(parsed.doc, parsed.lines, ['record_schema'], 'value');
    let problem: string | undefined;
    if ('refused' in read) {
      problem = read.missing
        ? `The record schema ${manifest.record_schema} does not exist (looked for ${schemaPath}).`
        : `The record schema ${manifest.record_schema} is not used: ${read.refused}.`;
    } else {
      let recordValidator: unknown;
      try {
        recordValidator = compileRecordSchema(JSON.parse(new TextDecoder().decode(read.bytes)) as unknown);
      } catch (err) {
        recordValidator = err; // not JSON
      }
      if (recordValidator instanceof Error) {
        problem = `The record schema ${manifest.record_schema} is not used: ${recordValidator.message}`;
      }
    }
    if (problem) findings.push({ rule: RULE, severity, range, message: problem });
  }
  if (manifest) findings.push(...globFindings(parsed, manifest.files, severity));
  if (manifest) findings.push(...(await manifestTokenizerFindings(parsed, manifestPath, env, severityOf)));
  return filterSuppressed(findings, parsed.lines);
}

/** A `files` glob that is malformed or over the matcher's limits is a finding on it, never a hang. */
function globFindings(parsed: ParsedYaml, files: readonly string[], severity: Severity): Finding[] {
  const out: Finding[] = [];
  files.forEach((glob, index) => {
    const problem = checkGlob(glob);
    if (problem) {
      const range = rangeOfPath(parsed.doc, parsed.lines, ['files', index], 'value');
      out.push({ rule: RULE, severity, range, message: `files[${index}]: ${problem}` });
    }
  });
  return out;
}

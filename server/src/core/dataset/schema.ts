// schema/missing-field, schema/wrong-type, schema/unknown-field, schema/extra-field: each record
// against its format's JSON Schema (schemas/records/*.schema.json) and an optional Datanet record schema.
//
// A top-level field a format does not define is one of two things. A field some format reads (a
// `system` beside `messages`) or one spelled like such a field (`instrcution`) is content that
// training would drop: schema/unknown-field, a warning, with the likely name. Any other (`source`,
// `category`, `prompt_id`, the metadata columns public datasets carry) is metadata that training
// ignores: schema/extra-field, a hint, so a dataset's own columns do not bury its real findings.
// A Datanet record schema that forbids extra fields is strict on purpose: its findings stay unknown-field.
import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import alpacaSchema from '../../../../schemas/records/alpaca.schema.json';
import ktoSchema from '../../../../schemas/records/kto.schema.json';
import messagesSchema from '../../../../schemas/records/messages.schema.json';
import preferenceSchema from '../../../../schemas/records/preference.schema.json';
import promptCompletionSchema from '../../../../schemas/records/prompt_completion.schema.json';
import sharegptSchema from '../../../../schemas/records/sharegpt.schema.json';
import textSchema from '../../../../schemas/records/text.schema.json';
import type { LineFindings } from './context';
import type { RecordFormat } from './formats';
import type { JsonPath, LineLocator } from './locate';
import { compileRecordSchema } from './recordSchema';
import { nearestMatch } from '../yaml/didYouMean';

export const RECORD_SCHEMAS: Readonly<Record<RecordFormat, object>> = {
  alpaca: alpacaSchema,
  sharegpt: sharegptSchema,
  messages: messagesSchema,
  text: textSchema,
  preference: preferenceSchema,
  kto: ktoSchema,
  prompt_completion: promptCompletionSchema,
};

// One Ajv per process; `unicode: false` keeps string-length keywords from scanning code points (Ajv
// marks the option deprecated but honours it). `logger: false`: the core must never write to stdout,
// which is the language server's protocol channel.
let ajv: Ajv | undefined;
const formatValidators = new Map<RecordFormat, ValidateFunction>();
const extraValidators = new WeakMap<object, ValidateFunction | Error>();

function getAjv(): Ajv {
  if (!ajv) {
    ajv = new Ajv({ allErrors: true, unicode: false, strict: false, validateSchema: false, logger: false });
    for (const schema of Object.values(RECORD_SCHEMAS)) ajv.addSchema(withRefsInlined(schema));
  }
  return ajv;
}

/**
 * `schema` with every `$ref` replaced by what it points to (in this schema or another record schema,
 * by file name): the same rules, but Ajv then compiles one function per format. A `$ref` Ajv compiles
 * as a function of its own is called once per message with a fresh options object and path string:
 * about 250 bytes of garbage a chat record, where the inlined code allocates nothing for a valid one.
 * The record schemas have no recursive reference (one would throw here, at the first validation).
 */
export function withRefsInlined(schema: object): object {
  const byFile = new Map<string, object>();
  for (const s of Object.values(RECORD_SCHEMAS)) byFile.set(String((s as { $id: string }).$id).replace(/^.*\//, ''), s);
  const inline = (node: unknown, base: object, seen: readonly string[], inProperties = false): unknown => {
    if (Array.isArray(node)) return node.map((item) => inline(item, base, seen));
    if (typeof node !== 'object' || node === null) return node;
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string') {
      const hash = ref.indexOf('#');
      const file = hash < 0 ? ref : ref.slice(0, hash);
      const pointer = hash < 0 ? '' : ref.slice(hash + 1);
      const targetBase = file === '' ? base : byFile.get(file);
      let target: unknown = targetBase;
      for (const seg of pointer.split('/').slice(1)) {
        if (typeof target !== 'object' || target === null) break;
        target = (target as Record<string, unknown>)[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
      }
      if (targetBase === undefined || typeof target !== 'object' || target === null)
        throw new Error(`record schema: unknown reference ${ref}`);
      const key = `${String((targetBase as { $id?: unknown }).$id)}#${pointer}`;
      if (seen.includes(key)) throw new Error(`record schema: recursive reference ${ref}`);
      // Draft 7: the keywords beside a $ref are ignored, as they are here.
      return inline(target, targetBase, [...seen, key]);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      // `definitions` are kept as written (Ajv compiles only what is reached); a property of that name is inlined.
      out[k] = k === 'definitions' && !inProperties ? v : inline(v, base, seen, !inProperties && k === 'properties');
    }
    return out;
  };
  return inline(schema, schema, []) as object;
}

/** Every top-level field that some record format defines. */
const FORMAT_FIELDS: ReadonlySet<string> = new Set(
  Object.values(RECORD_SCHEMAS).flatMap((schema) => Object.keys((schema as { properties?: object }).properties ?? {})),
);

/**
 * The field of `fields` (a format's own) that `field` is probably a misspelling of: the same name in
 * other case, one edit from it, or two from a name of eight letters or more (`instruction`); never a
 * guess at a name under three letters (`id`).
 */
export function likelyFieldName(field: string, fields: readonly string[]): string | undefined {
  const lower = field.toLowerCase();
  const nearest = nearestMatch(
    field,
    fields.filter((known) => known !== field && (known.length >= 3 || known === lower)),
  );
  if (!nearest) return undefined;
  return nearest.distance <= (nearest.match.length >= 8 ? 2 : 1) ? nearest.match : undefined;
}

/** Per format schema: its top-level fields, and the suggestion found for each unknown name so far. */
interface OwnFields {
  fields: readonly string[];
  suggestions: Map<string, string | undefined>;
}
const ownFields = new WeakMap<ValidateFunction, OwnFields>();
/** Names remembered per format: metadata columns repeat on every record; past this, names are not kept. */
const MAX_REMEMBERED_NAMES = 1000;

/** likelyFieldName against the top-level fields of a compiled format schema, remembered per name. */
function suggestionFor(validate: ValidateFunction, field: string): string | undefined {
  let own = ownFields.get(validate);
  if (!own) {
    const fields = Object.keys((validate.schema as { properties?: object }).properties ?? {});
    own = { fields, suggestions: new Map() };
    ownFields.set(validate, own);
  }
  if (own.suggestions.has(field)) return own.suggestions.get(field);
  const meant = likelyFieldName(field, own.fields);
  if (own.suggestions.size < MAX_REMEMBERED_NAMES) own.suggestions.set(field, meant);
  return meant;
}

export function formatValidator(format: RecordFormat): ValidateFunction {
  let validate = formatValidators.get(format);
  if (!validate) {
    validate = getAjv().getSchema((RECORD_SCHEMAS[format] as { $id: string }).$id)!;
    formatValidators.set(format, validate);
  }
  return validate;
}

/** A compiled Datanet record schema, or the Error that compiling it raised. */
export function extraValidator(schema: object): ValidateFunction | Error {
  let validate = extraValidators.get(schema);
  if (!validate) {
    validate = compileRecordSchema(schema); // bounded, local references only, patterns on RE2
    extraValidators.set(schema, validate);
  }
  return validate;
}

function pathOf(instancePath: string): JsonPath {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((seg) => {
      const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^(0|[1-9]\d*)$/.test(key) ? Number(key) : key;
    });
}

function describePath(path: JsonPath): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out === '' ? 'the record' : `'${out}'`;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function valueAt(root: unknown, path: JsonPath): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** The label of a Datanet's own record schema: its extra fields are refused as written (see the top). */
export const DATANET_LABEL = 'Datanet';

/**
 * Validates `value` and reports findings. `label` names the schema in messages. Role enums are left
 * to the messages rules (which can suggest the right role), so `enum` errors on role fields are dropped.
 */
export function checkSchema(
  validate: ValidateFunction,
  value: unknown,
  label: string,
  out: LineFindings,
  locator: LineLocator,
): void {
  if (validate(value)) return;
  const errors = validate.errors ?? [];
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  for (const error of errors) {
    // An anyOf whose matching branch reported deeper errors says nothing more than those errors.
    if (error.keyword === 'anyOf' && errors.some((o) => o.instancePath.startsWith(error.instancePath + '/'))) continue;
    reportError(error, value, label, out, locator, anyOfPaths, validate);
  }
}

/** A ShareGPT turn written with OpenAI's keys (role, content), as some exported datasets do. */
function writtenAsMessages(label: string, path: JsonPath, turn: unknown, missing: string): boolean {
  return (
    label === 'ShareGPT' &&
    path[0] === 'conversations' &&
    (missing === 'from' || missing === 'value') &&
    typeof turn === 'object' &&
    turn !== null &&
    'role' in turn &&
    'content' in turn
  );
}

function reportError(
  error: ErrorObject,
  root: unknown,
  label: string,
  out: LineFindings,
  locator: LineLocator,
  anyOfPaths: Set<string>,
  validate: ValidateFunction,
): void {
  const path = pathOf(error.instancePath);
  const where = describePath(path);
  switch (error.keyword) {
    case 'required': {
      const field = String((error.params as { missingProperty: string }).missingProperty);
      const [s, e] = locator.value(path);
      out.add(
        'schema/missing-field',
        s,
        e,
        `${label} record: ${where} lacks the required field '${field}'. ${
          writtenAsMessages(label, path, valueAt(root, path), field)
            ? `Its turn is written as an OpenAI message (role, content): rename 'conversations' to 'messages' to read the record as one.`
            : 'Add it.'
        }`,
        {
          field,
          path,
        },
      );
      return;
    }
    case 'additionalProperties': {
      const field = String((error.params as { additionalProperty: string }).additionalProperty);
      const [s, e] = locator.key([...path, field]);
      const inRecord = where === 'the record' ? '' : ` in ${where}`;
      if (label === DATANET_LABEL || path.length > 0) {
        out.add(
          'schema/unknown-field',
          s,
          e,
          `${label} records do not define the field '${field}'${inRecord}: remove or rename it.`,
          { field, path },
        );
        return;
      }
      if (FORMAT_FIELDS.has(field)) {
        out.add(
          'schema/unknown-field',
          s,
          e,
          `${label} records do not read '${field}' (a field of other formats): training ignores it. Move what it holds into the record's own fields, or remove it.`,
          { field, path },
        );
        return;
      }
      const meant = suggestionFor(validate, field);
      if (meant !== undefined) {
        out.add(
          'schema/unknown-field',
          s,
          e,
          `${label} records do not define the field '${field}': did you mean '${meant}'? Training ignores it as written.`,
          { field, path, suggestion: meant },
        );
        return;
      }
      out.add(
        'schema/extra-field',
        s,
        e,
        `'${field}' is not a field of ${label} records: training ignores it (metadata such as a source or a category is fine here).`,
        { field, path },
      );
      return;
    }
    case 'enum': {
      const last = path[path.length - 1];
      if (last === 'role' || last === 'from') return;
      const allowed = ((error.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) =>
        JSON.stringify(v),
      );
      const [s, e] = locator.value(path);
      out.add('schema/wrong-type', s, e, `${where} must be one of ${allowed.join(', ')}.`, { path });
      return;
    }
    case 'type': {
      // Inside an anyOf, the branch-level type errors are summarised by the anyOf error itself.
      if (anyOfPaths.has(error.instancePath)) return;
      const expected = String((error.params as { type: string | string[] }).type).replace(/,/g, ' or ');
      const [s, e] = locator.value(path);
      out.add(
        'schema/wrong-type',
        s,
        e,
        `${where} must be ${article(expected)} ${expected}, not ${article(jsonType(valueAt(root, path)))} ${jsonType(valueAt(root, path))}.`,
        { path, expected },
      );
      return;
    }
    case 'anyOf': {
      const [s, e] = locator.value(path);
      out.add(
        'schema/wrong-type',
        s,
        e,
        `${where} must be a string or a list of {role, content} messages, not ${article(jsonType(valueAt(root, path)))} ${jsonType(valueAt(root, path))}.`,
        { path },
      );
      return;
    }
    default: {
      const [s, e] = locator.value(path);
      out.add('schema/wrong-type', s, e, `${where} ${error.message ?? 'breaks the schema'} (${label} schema).`, {
        path,
      });
    }
  }
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

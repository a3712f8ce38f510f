// LLaMA-Factory's dataset registry (dataset_info.json): how one entry's `formatting`, `ranking`,
// `columns` and `tags` rewrite a record to the record contract's keys, before the contract converts it
// (contract.ts). Pure: the tables are in schemas/records/contract.json (`registry`), and
// trainer/modelfactory_trainer/records.py (`registry_reading`, `map_registry_record`) is the same
// procedure in Python; test/conformance/registry.jsonl holds both sides to the same mapped records.
import contract from '../../../../schemas/records/contract.json';
import type { RecordFormat } from './formats';

type Json = Record<string, unknown>;

const TABLE = contract.registry;
export type RegistryFormatting = 'alpaca' | 'sharegpt';
export const REGISTRY_FORMATTINGS: readonly string[] = TABLE.formatting;
/** The keys an entry may have, as LLaMA-Factory reads them. */
export const REGISTRY_KEYS: readonly string[] = TABLE.keys;
/** Where an entry's records come from: a local file, or a hub or script this trainer does not read. */
export const REGISTRY_SOURCES: readonly string[] = TABLE.sources;
/** LLaMA-Factory's column names for a formatting, each with the contract key it becomes. */
export const REGISTRY_COLUMNS: Readonly<Record<RegistryFormatting, Readonly<Record<string, string>>>> = TABLE.columns;
/** Every column name LLaMA-Factory knows, whichever formatting reads it. */
export const ALL_REGISTRY_COLUMNS: readonly string[] = [
  ...new Set([...Object.keys(TABLE.columns.alpaca), ...Object.keys(TABLE.columns.sharegpt)]),
];
/** The tag names, each with its default (which is also the contract's ShareGPT name). */
export const REGISTRY_TAGS: Readonly<Record<string, string>> = TABLE.tags;

/** How an entry reads its records: which record key holds each column, and the speaker names. */
export interface RegistryReading {
  formatting: RegistryFormatting;
  ranking: boolean;
  /** The record format the mapped records are converted as. */
  format: RecordFormat;
  /** LLaMA-Factory column name -> the key in the entry's records that holds it. */
  columns: Record<string, string>;
  /** role_tag and content_tag: the keys of a turn; the speaker tags: the names the records use. */
  tags: Record<string, string>;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strings(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(value)) return out;
  for (const [key, v] of Object.entries(value)) if (typeof v === 'string' && v !== '') out[key] = v;
  return out;
}

/**
 * An entry as LLaMA-Factory reads it: formatting defaults to alpaca; `columns`, when given, replaces
 * the default columns (a column it leaves out is not read); `tags`, when given, replaces the default
 * speaker names (role_tag and content_tag keep their defaults when left out). A string when the entry
 * cannot be read at all.
 */
export function registryReading(entry: unknown): RegistryReading | string {
  if (!isObject(entry)) return 'a registry entry must be an object';
  const formatting = entry.formatting ?? 'alpaca';
  if (typeof formatting !== 'string' || !REGISTRY_FORMATTINGS.includes(formatting)) {
    return `formatting ${JSON.stringify(formatting)} is not read by this trainer: use ${REGISTRY_FORMATTINGS.join(' or ')}`;
  }
  const known = REGISTRY_COLUMNS[formatting as RegistryFormatting];
  const given = 'columns' in entry ? strings(entry.columns) : TABLE.default_columns[formatting as RegistryFormatting];
  const columns: Record<string, string> = {};
  for (const [name, key] of Object.entries(given)) if (name in known) columns[name] = key;
  const tags: Record<string, string> = 'tags' in entry ? strings(entry.tags) : { ...TABLE.tags };
  tags.role_tag ??= TABLE.tags.role_tag;
  tags.content_tag ??= TABLE.tags.content_tag;
  const ranking = entry.ranking === true;
  const format: RecordFormat = ranking ? 'preference' : columns.kto_tag ? 'kto' : (formatting as RecordFormat);
  return { formatting: formatting as RegistryFormatting, ranking, format, columns, tags };
}

/** One ShareGPT turn written with the entry's tags, in the contract's `from`/`value` and speaker names. */
function mapTurn(turn: unknown, tags: Record<string, string>): unknown {
  if (!isObject(turn)) return turn;
  const out: Json = {};
  const role = turn[tags.role_tag!];
  if (role !== undefined) {
    let speaker = role;
    for (const tag of TABLE.speaker_tags)
      if (tags[tag] !== undefined && tags[tag] === role) speaker = TABLE.tags[tag as keyof typeof TABLE.tags];
    out.from = speaker;
  }
  if (tags.content_tag! in turn) out.value = turn[tags.content_tag!];
  return out;
}

/** A record read through an entry, with only the columns the entry reads, under the contract's keys. */
export function mapRegistryRecord(reading: RegistryReading, record: unknown): unknown {
  if (!isObject(record)) return record;
  const out: Json = {};
  const known = REGISTRY_COLUMNS[reading.formatting];
  for (const [name, key] of Object.entries(reading.columns)) {
    if (!(key in record)) continue;
    const value = record[key];
    const target = known[name]!;
    if (reading.formatting === 'sharegpt' && TABLE.turn_columns.includes(name)) {
      out[target] = Array.isArray(value)
        ? value.map((turn) => mapTurn(turn, reading.tags))
        : mapTurn(value, reading.tags);
    } else {
      out[target] = value;
    }
  }
  return out;
}

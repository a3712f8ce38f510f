// Every rule that needs nothing but the record itself, run over one line: parsing, format, schema,
// messages, content, PII, secrets and length; plus the keys the cross-record rules index by.
import type { Finding } from '../types';
import { checkContent } from './content';
import { LineFindings } from './context';
import type { DatasetValidatorOptions } from './context';
import { hashJsonText, hashSerial } from './dedupExact';
import { MinHasher } from './dedupNear';
import { toExample } from './contract';
import type { Conversion, Refusal } from './example';
import { detectRecordFormat } from './formats';
import type { RecordFormat } from './formats';
import { parseJsonLine } from './jsonl';
import { ContentValues, plainTurns } from './plainRecord';
import { countTokens, checkLength } from './length';
import { LineLocator } from './locate';
import type { JsonPath } from './locate';
import { mediaRefs } from './mediaFiles';
import type { MediaRef } from './mediaFiles';
import { checkOpenAiMessages, checkShareGptConversations } from './messages';
import { exampleText, recordText } from './recordText';
import { DATANET_LABEL, checkSchema, extraValidator, formatValidator } from './schema';
import { checkSensitive, sensitiveRulesOf } from './sensitive';
import type { SensitiveRules } from './sensitive';

export type LineKind = 'blank' | 'invalid' | 'record';

export interface LineAnalysis {
  kind: LineKind;
  /** Detected format; undefined for blank and invalid lines and for records of no known format. */
  format?: RecordFormat;
  findings: Finding[];
  /** 53-bit hash of the JSON value (records only), else -1. */
  valueHash: number;
  /** True when `analyzer.hasher` holds this record's near-duplicate signature. */
  hasSignature: boolean;
  tokens: number;
  tokensExact: boolean;
  /** The files the record names (media/missing-file), checked on disk afterwards by the host. */
  media?: MediaRef[];
}

/** "an Alpaca record", "a Text record". */
export function withArticle(format: RecordFormat): string {
  return (format === 'alpaca' ? 'an ' : 'a ') + FORMAT_LABELS[format];
}

export const FORMAT_LABELS: Readonly<Record<RecordFormat, string>> = {
  alpaca: 'Alpaca',
  sharegpt: 'ShareGPT',
  messages: 'Messages',
  text: 'Text',
  preference: 'Preference',
  kto: 'KTO',
  prompt_completion: 'Prompt-completion',
};

/** The path and options of a messages record's check, made once (not two objects a record). */
const MESSAGES_PATH: JsonPath = Object.freeze(['messages']);
const WHOLE_CONVERSATION = { requireAssistant: true, checkOrder: true } as const;

export class RecordAnalyzer {
  /** Holds the signature of the last analyzed record; callers copy what they keep. */
  readonly hasher = new MinHasher();
  private readonly nearOn: boolean;
  private readonly exactOn: boolean;
  private readonly mediaOn: boolean;

  private readonly severityOf: DatasetValidatorOptions['severityOf'];
  private readonly sensitiveRules: SensitiveRules;

  constructor(readonly opts: DatasetValidatorOptions) {
    // Severities are asked for many times per line: resolve each rule once.
    const severities = new Map<string, ReturnType<DatasetValidatorOptions['severityOf']>>();
    this.severityOf = (rule) => {
      if (severities.has(rule)) return severities.get(rule);
      const severity = opts.severityOf(rule);
      severities.set(rule, severity);
      return severity;
    };
    this.nearOn = opts.severityOf('dedup/near') !== undefined;
    this.exactOn = opts.severityOf('dedup/exact') !== undefined || this.nearOn;
    this.mediaOn = opts.severityOf('media/missing-file') !== undefined;
    this.sensitiveRules = sensitiveRulesOf(new LineFindings(this.severityOf, 0));
  }

  /** The line being analysed, and its hash once `hashLine` made it. */
  private text = '';
  private hashed: ReturnType<typeof hashJsonText> | undefined;
  /** Where a plain record's content is among its string values (plainRecord.ts), for the sketch. */
  private readonly content = new ContentValues();
  /** Hashes the line as parseJsonLine reads its value, and gives its depth: the depth check needs no walk then. */
  private readonly hashLine = (value: unknown): number => (this.hashed = hashJsonText(this.text, value)).depth;

  /** `asciiLine`: the caller knows `text` has no character above U+007F (it may skip scanning for one). */
  analyze(text: string, line: number, asciiLine = false): LineAnalysis {
    const out = new LineFindings(this.severityOf, line);
    this.text = text;
    this.hashed = undefined;
    // With duplicates on, the value is hashed as it is parsed (the hash's result is read below).
    const parsed = parseJsonLine(text, out, this.exactOn ? this.hashLine : undefined);
    const result: LineAnalysis = {
      kind: parsed.kind === 'value' ? 'record' : parsed.kind,
      findings: out.items,
      valueHash: -1,
      hasSignature: false,
      tokens: 0,
      tokensExact: false,
    };
    if (parsed.kind !== 'value') return result;
    const value = parsed.value;
    const loc = new LineLocator(text);
    // The hash reads every byte of the record anyway: it also tells whether all its strings are ASCII.
    let valueAscii = false;
    let hints: number | undefined;
    // The string values the hash listed, and which hash that was (the sketch reads them if no other came).
    let values = -1;
    let valuesOf = -1;
    let nonAscii = -1;
    if (this.exactOn) {
      const hashed = this.hashed ?? hashJsonText(text, value);
      result.valueHash = hashed.hash;
      valueAscii = hashed.ascii;
      hints = hashed.hints;
      values = hashed.values;
      valuesOf = hashSerial();
      nonAscii = hashed.nonAscii;
    }
    checkSensitive(text, value, out, loc, this.sensitiveRules, hints);

    const format = detectRecordFormat(value);
    if (this.opts.recordSchema) {
      const extra = extraValidator(this.opts.recordSchema);
      if (!(extra instanceof Error)) checkSchema(extra, value, DATANET_LABEL, out, loc);
    }
    if (!format) {
      out.add(
        'format/unknown',
        0,
        text.length,
        'This record matches no known format: use {"messages": [...]}, {"conversations": [...]}, {"instruction", "input", "output"}, {"text"}, {"prompt", "completion"}, a preference pair {"prompt", "chosen", "rejected"} or a KTO record {"prompt", "completion", "label"}.',
      );
      return result;
    }
    result.format = format;
    const demanded = this.opts.format;
    if (demanded && demanded !== format) {
      out.add(
        'format/mixed',
        0,
        text.length,
        `This is ${withArticle(format)} record, but the Datanet requires ${FORMAT_LABELS[demanded]} records: convert it.`,
        { format, expected: demanded },
      );
    }
    const record = value as Record<string, unknown>;
    // The plainest conversation record has nothing for the schema, the message checks or the contract
    // reader to say, and its turns are read here once (plainRecord.ts).
    const plain = plainTurns(value, format, this.content);
    if (!plain) checkSchema(formatValidator(format), value, FORMAT_LABELS[format], out, loc);
    switch (plain ? undefined : format) {
      case 'messages':
        checkOpenAiMessages(record.messages, MESSAGES_PATH, out, loc, WHOLE_CONVERSATION);
        break;
      case 'sharegpt':
        checkShareGptConversations(record.conversations, ['conversations'], out, loc);
        break;
      case 'preference':
      case 'kto':
      case 'prompt_completion': {
        const sides = ['prompt', 'chosen', 'rejected', 'completion', 'preferred_output', 'non_preferred_output'];
        for (const side of sides) {
          checkOpenAiMessages(record[side], [side], out, loc, { requireAssistant: false, checkOrder: false });
        }
        const input = record.input as Record<string, unknown> | undefined;
        if (input && typeof input === 'object') {
          checkOpenAiMessages(input.messages, ['input', 'messages'], out, loc, {
            requireAssistant: false,
            checkOrder: true,
          });
        }
        // A KTO conversation ends with the judged answer; a preference prompt ends before the answers.
        const asKto = { requireAssistant: format === 'kto', checkOrder: true };
        checkOpenAiMessages(record.messages, ['messages'], out, loc, asKto);
        checkShareGptConversations(record.conversations, ['conversations'], out, loc, asKto);
        break;
      }
      default:
        break;
    }
    checkContent(record, format, out, loc, hints);
    const conversion: Conversion = plain
      ? { ok: true, example: { kind: 'sft', messages: plain } }
      : toExample(value, format);
    if (!conversion.ok) reportRefusals(conversion.refusals, out, loc);
    else if (this.mediaOn && conversion.example.media) result.media = mediaRefs(record, conversion.example, loc);
    // A plain record's text is its values and ASCII glue (its speakers are the contract's names): the
    // hash counted its units past ASCII already.
    const rt = conversion.ok
      ? exampleText(conversion.example, plain && nonAscii >= 0 ? nonAscii : undefined)
      : recordText(record, format);
    // The text is built from the record's strings and ASCII glue. Strings parsed from an ASCII line
    // are ASCII unless a \u escape spells something else.
    const fullIsAscii = valueAscii || (asciiLine && text.indexOf('\\u') < 0);
    const tokens = countTokens(rt, this.opts.tokenCounter, this.opts.maxTokens, fullIsAscii);
    result.tokens = tokens.tokens;
    result.tokensExact = tokens.exact;
    checkLength(rt, tokens, text.length, this.opts, out);
    if (this.nearOn) {
      // A plain record's content is where the hash left it (one copy in the engine's memory); any other
      // record's is encoded from its strings.
      const inPlace =
        plain && values >= 0 && valuesOf === hashSerial()
          ? this.hasher.computeValues(this.content.indices, this.content.count, values)
          : undefined;
      result.hasSignature = inPlace ?? this.hasher.computeParts(rt.contentParts);
    }
    return result;
  }
}

export function hasError(findings: readonly Finding[]): boolean {
  for (const f of findings) if (f.severity === 'error') return true;
  return false;
}

/**
 * What the trainer would refuse, reported under the same rule id unless a rule already said so as an
 * error on this line (with its own wording and range): a record that lints clean is one the trainer loads.
 */
function reportRefusals(refusals: readonly Refusal[], out: LineFindings, loc: LineLocator): void {
  for (const refusal of refusals) {
    if (out.items.some((f) => f.rule === refusal.rule && f.severity === 'error')) continue;
    const [s, e] = loc.value(refusal.path);
    out.add(refusal.rule, s, e, `The trainer would refuse this record: ${refusal.message}.`);
  }
}

// pii/email and pii/phone leave documentation names alone: the reserved example domains and TLDs
// (RFC 2606, RFC 6761) and the fictional 555-0100..555-0199 numbers (NANPA); real-looking ones next
// to them are still reported.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findEmails, findPhones, isFictionalNanp, isReservedDomain } from '../../server/src/core/dataset/pii';
import type { TextMatch } from '../../server/src/core/dataset/pii';
import { DatasetValidator } from '../../server/src/core/dataset/validator';
import { validatorOptions } from './options';

function piiIn(text: string): string[] {
  const line = JSON.stringify({ text });
  const v = new DatasetValidator(validatorOptions());
  v.update(0, 0, [line]);
  return v
    .findings()
    .filter((f) => f.rule.startsWith('pii/'))
    .map((f) => `${f.rule} ${line.slice(f.range.start.character, f.range.end.character)}`);
}

describe('reserved example domains are not PII', () => {
  it('knows the reserved names and nothing more', () => {
    for (const d of [
      'example.com',
      'EXAMPLE.ORG',
      'example.net',
      'mail.example.com',
      'a.b.example.net',
      'corp.example',
      'host.test',
      'x.invalid',
      'dev.localhost',
    ]) {
      assert.equal(isReservedDomain(d), true, d);
    }
    for (const d of [
      'example.co',
      'myexample.com',
      'example.com.evil.org',
      'example-domain.com',
      'testing.io',
      'gmail.com',
    ]) {
      assert.equal(isReservedDomain(d), false, d);
    }
  });

  it('does not flag the address our own fix messages recommend, nor other example addresses', () => {
    assert.deepEqual(piiIn('Replace it with a placeholder such as user@example.com.'), []);
    assert.deepEqual(
      piiIn(
        'Write to jane.doe@example.org, ops@mail.example.net, a@corp.example, b@ci.test, c@nowhere.invalid or d@app.localhost.',
      ),
      [],
    );
  });

  it('still flags addresses at other domains, next to example ones', () => {
    assert.deepEqual(piiIn('Mail recipient@example.com or jane.doe@gmail.com or ops@example-domain.com'), [
      'pii/email jane.doe@gmail.com',
      'pii/email ops@example-domain.com',
    ]);
  });

  it('the detector itself skips them (the \\u-escape path uses it too)', () => {
    const out: TextMatch[] = [];
    findEmails('user@example.com and bob@acme-corp.com', out);
    assert.deepEqual(
      out.map((m) => m.start),
      [21],
    );
  });
});

describe('fictional 555-01XX numbers are not PII', () => {
  it('recognises the common spellings', () => {
    for (const n of [
      '(202) 555-0143',
      '+1 202 555 0199',
      '+1-202-555-0100',
      '202.555.0123',
      '1-800-555-0100',
      '212-555-0150',
    ]) {
      assert.equal(isFictionalNanp(n), true, n);
    }
    for (const n of ['(202) 555-0200', '(202) 555-2368', '+1 202 556 0143', '+44 20 7946 0958', '+49 30 5550 1234']) {
      assert.equal(isFictionalNanp(n), false, n);
    }
  });

  it('does not flag them in records, and still flags real-looking numbers', () => {
    assert.deepEqual(piiIn('Call 555-0123, (202) 555-0143 or +1 202 555 0199, or +1-555-0100.'), []);
    assert.deepEqual(piiIn('Call (202) 555-0143 or (212) 555-2368 or +44 20 7946 0958.'), [
      'pii/phone (212) 555-2368',
      'pii/phone +44 20 7946 0958',
    ]);
    const out: TextMatch[] = [];
    findPhones('+1-202-555-0143 and +1-202-555-2368', out);
    assert.equal(out.length, 1);
  });
});

// media/missing-file: the files a multimodal record names must exist, relative to the dataset's folder;
// checked through the Environment on every path a dataset takes (editor session, stream, workers,
// .json arrays), with URLs accepted unchecked and nothing but a stat of anything a record names.
import assert from 'node:assert/strict';
import { createReadStream, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Environment, FileSystem } from '../../server/src/core/io';
import { MediaFileChecker, mediaTarget } from '../../server/src/core/dataset/mediaFiles';
import { ModelFactoryService } from '../../server/src/core/service';
import { DEFAULT_SETTINGS } from '../../server/src/core/settings';
import type { Finding } from '../../server/src/core/types';
import { nodeEnvironment } from '../../server/src/nodeFs';
import { lintDatasetFileOnNode } from '../../server/src/parallel/lintFile';

const record = (images: string[]): string =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `${'<image>'.repeat(images.length)} What is in the picture number ${images.length}?` },
      { role: 'assistant', content: `Something different for ${images.join(', ')}.` },
    ],
    images,
  });

/** A dataset folder with real files: present.png, sub/inner.png, a folder, a symlink to /dev/null. */
function workspace(): { dir: string; path: string; lines: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'mf-media-'));
  writeFileSync(join(dir, 'present.png'), 'png');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'inner.png'), 'png');
  mkdirSync(join(dir, 'folder.png'));
  symlinkSync('/dev/null', join(dir, 'device.png'));
  const lines = [
    record(['present.png']), // 0: fine
    record(['missing.png']), // 1: missing
    record(['sub/inner.png', 'sub/../present.png']), // 2: fine
    record(['https://example.com/cat.png']), // 3: a URL, unchecked
    record([join(dir, 'present.png')]), // 4: absolute, present
    record([join(dir, 'gone.png')]), // 5: absolute, missing
    record(['folder.png']), // 6: a folder
    record(['device.png']), // 7: a link to a device
    record(['/dev/zero']), // 8: a device, never stat()ed
    record(['../../../../../../../../proc/self/environ']), // 9: resolves into /proc
    record(['']), // 10: empty
  ];
  const path = join(dir, 'data.jsonl');
  writeFileSync(path, lines.join('\n') + '\n');
  return { dir, path, lines };
}

/** The Node environment, recording every path handed to the file system. */
function recordingEnv(): { env: Environment; touched: string[] } {
  const base = nodeEnvironment();
  const touched: string[] = [];
  const fs: FileSystem = {
    readFile: (p) => (touched.push(`read ${p}`), base.fs.readFile(p)),
    readRange: (p, s, e) => (touched.push(`range ${p}`), base.fs.readRange(p, s, e)),
    stat: (p) => (touched.push(`stat ${p}`), base.fs.stat(p)),
    readDir: (p) => (touched.push(`dir ${p}`), base.fs.readDir(p)),
  };
  return { env: { ...base, fs }, touched };
}

const EXPECTED_LINES = [1, 5, 6, 7, 8, 9, 10];
const mediaLines = (findings: Finding[]): number[] =>
  findings.filter((f) => f.rule === 'media/missing-file').map((f) => f.range.start.line);

describe('media/missing-file', () => {
  it('classifies references: URLs, paths relative to the dataset, device trees refused', () => {
    assert.deepEqual(mediaTarget('https://x.org/a.png', '/data'), { kind: 'url' });
    assert.deepEqual(mediaTarget('HTTP://x.org/a.png', '/data'), { kind: 'url' });
    assert.deepEqual(mediaTarget('img/a.png', '/data/set'), { kind: 'path', path: '/data/set/img/a.png' });
    assert.deepEqual(mediaTarget('../a.png', '/data/set'), { kind: 'path', path: '/data/a.png' });
    assert.deepEqual(mediaTarget('/abs/a.png', '/data'), { kind: 'path', path: '/abs/a.png' });
    assert.equal(mediaTarget('/dev/stdin', '/data').kind, 'refused');
    assert.equal(mediaTarget('../../../sys/kernel', '/a/b').kind, 'refused');
    assert.equal(mediaTarget('file:///etc/x', '/data').kind, 'path');
    assert.equal(mediaTarget(' ', '/data').kind, 'refused');
  });

  it('reports each missing or irregular file in the editor, stat()ing only what records name', async () => {
    const { dir, path, lines } = workspace();
    const { env, touched } = recordingEnv();
    const service = new ModelFactoryService(env, { ...DEFAULT_SETTINGS });
    const session = await service.openDataset(path, lines);
    await session.refreshFromDisk();
    const findings = session.findings();
    assert.deepEqual(mediaLines(findings), EXPECTED_LINES);
    const missing = findings.find((f) => f.range.start.line === 1 && f.rule === 'media/missing-file')!;
    assert.equal(missing.severity, 'error');
    assert.match(missing.message, /"missing\.png" does not exist/);
    assert.deepEqual(missing.data, { file: 'missing.png', resolved: join(dir, 'missing.png') });
    // The range is the string in the images list.
    const at = lines[1]!.indexOf('"missing.png"');
    assert.deepEqual(missing.range.start, { line: 1, character: at });
    assert.deepEqual(missing.range.end, { line: 1, character: at + '"missing.png"'.length });
    // Nothing in a device tree or under the URL was touched; the media files were only stat()ed.
    assert.ok(!touched.some((t) => /\/(dev|proc)\//.test(t)), touched.join('\n'));
    assert.ok(!touched.some((t) => t.includes('example.com')));
    const mediaReads = touched.filter((t) => !t.startsWith('stat ') && /\.png$/.test(t));
    assert.deepEqual(mediaReads, []);

    // An edit that names a new file is checked; creating a file clears the finding on the next save.
    session.update(1, 1, [record(['later.png'])]);
    assert.equal(await session.checkMedia(), true);
    assert.equal(await session.checkMedia(), false, 'checked paths are cached');
    assert.match(session.findings().find((f) => f.range.start.line === 1)!.message, /later\.png/);
    writeFileSync(join(dir, 'later.png'), 'png');
    await session.refreshFromDisk();
    assert.deepEqual(mediaLines(session.findings()), EXPECTED_LINES.slice(1));
    // Lines that shift keep their findings on the right line.
    session.update(0, 0, ['{"text": "a new first record"}']);
    assert.deepEqual(
      mediaLines(session.findings()),
      EXPECTED_LINES.slice(1).map((l) => l + 1),
    );
  });

  it('reports the same in the CLI stream, with workers, and in a .json array, and counts them in the statistics', async () => {
    const { dir, path, lines } = workspace();
    const service = new ModelFactoryService(nodeEnvironment(), { ...DEFAULT_SETTINGS });
    const lint = async (jobs: number) => {
      const findings: Finding[] = [];
      const size = Buffer.byteLength(lines.join('\n') + '\n');
      const stats = await lintDatasetFileOnNode(
        service,
        path,
        size,
        createReadStream(path, { highWaterMark: 300 }),
        (f) => findings.push(f),
        undefined,
        { jobs, minParallelBytes: 0, batchBytes: 400 },
      );
      return { findings, stats };
    };
    const one = await lint(1);
    assert.deepEqual(mediaLines(one.findings), EXPECTED_LINES);
    assert.equal(one.stats.findingsByRule['media/missing-file'], EXPECTED_LINES.length);
    // Line 10 (an empty path) has no other error; every listed line loses its acceptance.
    assert.equal(one.stats.acceptance, (lines.length - EXPECTED_LINES.length) / lines.length);
    assert.deepEqual(await lint(2), one);

    const jsonPath = join(dir, 'data.json');
    const text = '[\n' + lines.map((l) => '  ' + l).join(',\n') + '\n]\n';
    writeFileSync(jsonPath, text);
    const result = await service.validateJsonDataset(jsonPath, text);
    assert.deepEqual(
      mediaLines(result.findings),
      EXPECTED_LINES.map((l) => l + 1),
    );
    const f = result.findings.find((x) => x.rule === 'media/missing-file')!;
    assert.equal(
      text.split('\n')[f.range.start.line]!.slice(f.range.start.character, f.range.end.character),
      '"missing.png"',
    );
    assert.equal(result.stats.acceptance, (lines.length - EXPECTED_LINES.length) / lines.length);
  });

  it('is off with the rule, and stops at its bounds', async () => {
    const { path, lines } = workspace();
    const { env, touched } = recordingEnv();
    const off = new ModelFactoryService(env, { ...DEFAULT_SETTINGS, rules: { 'media/missing-file': 'off' } });
    const session = await off.openDataset(path, lines);
    await session.refreshFromDisk();
    assert.deepEqual(mediaLines(session.findings()), []);
    assert.ok(!touched.some((t) => t.endsWith('.png')));

    const checker = new MediaFileChecker(nodeEnvironment(), { maxPaths: 2 });
    assert.deepEqual(await checker.check(['/nope/a', '/nope/b', '/nope/c', '/nope/a']), { checked: 2, unchecked: 1 });
    let clock = 0;
    const slow = new MediaFileChecker(
      { ...nodeEnvironment(), now: () => (clock += 600) },
      { budgetMs: 1000, concurrency: 1 },
    );
    assert.deepEqual(await slow.check(['/nope/a', '/nope/b', '/nope/c']), { checked: 1, unchecked: 2 });
  });
});

// Cuts a byte stream into batches of whole lines of at least `batchBytes` each (the last one may be
// shorter), by the editor's line policy: LF, CRLF or a lone CR ends a line. A CR at the end of what
// has arrived so far waits for the next byte, so a CRLF is never split between batches.
//
// Each byte is copied once, into the buffer of the batch it will belong to: once at least
// `batchBytes` are pending, the batch is everything up to the last line ending that has arrived, and
// only the partial line after it moves to the next batch's buffer. Every batch is a view on a buffer
// of its own, which the caller may hand to another thread whole (see DatasetWorkerPool.analyze).

export class LineBatcher {
  /** Pending bytes are buf[0, end). */
  private buf = new Uint8Array(0);
  private end = 0;
  /** buf[lastCut, noEolBelow) holds no line ending (a final CR excepted, which is looked at again). */
  private noEolBelow = 0;
  /** End of the last line ending below noEolBelow, or -1. */
  private lastCut = -1;

  constructor(private readonly batchBytes: number) {}

  /** Adds a chunk; returns the batch it completes, if any (a view that owns its buffer). */
  push(chunk: Uint8Array): Uint8Array[] {
    this.append(chunk);
    const cut = this.findCut();
    if (cut < Math.max(1, this.batchBytes)) return [];
    const batch = this.buf.subarray(0, cut);
    const rest = this.end - cut;
    const next = new Uint8Array(this.capacityFor(rest + chunk.length, chunk.length));
    next.set(this.buf.subarray(cut, this.end));
    this.buf = next;
    this.end = rest;
    this.noEolBelow = Math.max(0, rest - 1);
    this.lastCut = -1;
    return [batch];
  }

  /** The rest: the file's last line when it has no line ending, or undefined when nothing is left. */
  finish(): Uint8Array | undefined {
    const rest = this.end > 0 ? this.buf.subarray(0, this.end) : undefined;
    this.buf = new Uint8Array(0);
    this.end = this.noEolBelow = 0;
    this.lastCut = -1;
    return rest;
  }

  /** Room for `needed` bytes and a batch's worth more, so that most batches fill one buffer. */
  private capacityFor(needed: number, chunkLength: number): number {
    return Math.max(needed, this.batchBytes + 2 * chunkLength, 1 << 12);
  }

  private append(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buf.length) {
      const size = Math.max(2 * this.buf.length, this.capacityFor(this.end + chunk.length, chunk.length));
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.end));
      this.buf = next;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /**
   * End of the last line ending pending (a CR at the very end excluded, as it may start a CRLF), or
   * -1 when there is none. Scans backwards down to where the last search stopped: each byte once.
   */
  private findCut(): number {
    const buf = this.buf;
    let i = this.end - 1;
    if (buf[i] === 0x0d) i--;
    for (; i >= this.noEolBelow; i--) {
      const b = buf[i];
      // Scanning backwards, an LF after this CR would have been found first: this CR ends a line.
      if (b === 0x0a || b === 0x0d) {
        this.lastCut = i + 1;
        break;
      }
    }
    this.noEolBelow = Math.max(this.noEolBelow, this.end - 1);
    return this.lastCut;
  }
}

// Cuts a byte stream into batches of whole lines of at least `batchBytes` each (the last one may be
// shorter), by the editor's line policy: LF, CRLF or a lone CR ends a line. A CR at the end of what
// has arrived so far waits for the next byte, so a CRLF is never split between batches. Each byte
// is scanned once, however long a line is.

export class LineBatcher {
  private buf = new Uint8Array(0);
  /** Pending bytes are buf[start, end). */
  private start = 0;
  private end = 0;
  /** Bytes before this position hold no line ending that could end the next batch. */
  private scanned = 0;

  constructor(private readonly batchBytes: number) {}

  /** Adds a chunk; returns the batches it completes (fresh arrays, each owning its buffer). */
  push(chunk: Uint8Array): Uint8Array[] {
    this.append(chunk);
    const batches: Uint8Array[] = [];
    for (;;) {
      const cut = this.findCut();
      if (cut < 0) break;
      batches.push(this.buf.slice(this.start, cut));
      this.start = cut;
      this.scanned = cut;
    }
    return batches;
  }

  /** The rest: the file's last line when it has no line ending, or undefined when nothing is left. */
  finish(): Uint8Array | undefined {
    const rest = this.start < this.end ? this.buf.slice(this.start, this.end) : undefined;
    this.buf = new Uint8Array(0);
    this.start = this.end = this.scanned = 0;
    return rest;
  }

  private append(chunk: Uint8Array): void {
    const pending = this.end - this.start;
    if (this.end + chunk.length > this.buf.length) {
      if (pending + chunk.length <= this.buf.length / 2) {
        // Mostly consumed: move the pending bytes to the front instead of growing.
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const next = new Uint8Array(Math.max(2 * this.buf.length, pending + chunk.length, 1 << 16));
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      }
      this.scanned -= this.start;
      this.start = 0;
      this.end = pending;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** End of the first line ending at or after `batchBytes` pending bytes, or -1 when none yet. */
  private findCut(): number {
    const buf = this.buf;
    const end = this.end;
    for (let i = Math.max(this.scanned, this.start + this.batchBytes - 1); i < end; i++) {
      const b = buf[i];
      if (b === 0x0a) return i + 1;
      if (b === 0x0d) {
        if (i + 1 === end) {
          this.scanned = i;
          return -1;
        }
        return buf[i + 1] === 0x0a ? i + 2 : i + 1;
      }
    }
    this.scanned = Math.max(this.scanned, end);
    return -1;
  }
}

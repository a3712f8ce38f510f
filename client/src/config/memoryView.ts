// The language server's `modelfactory/memoryEstimate` answer (a `ConfigMemoryEstimate`, or null) as
// the panel shows it. The answer crosses a process boundary, so it is checked, not trusted.
import { isMemoryView } from '../../../webviews/src/protocol/hyperparameters';
import type { MemoryView } from '../../../webviews/src/protocol/hyperparameters';
import { isObj } from '../../../webviews/src/protocol/validate';

export function toMemoryView(answer: unknown): MemoryView | null {
  if (!isObj(answer) || !isObj(answer['estimate']) || !Array.isArray(answer['breakdown'])) return null;
  const estimate = answer['estimate'];
  const view = {
    model: answer['model'],
    totalBytes: estimate['totalBytes'],
    gpuMemoryBytes: answer['gpuMemoryBytes'],
    loraParameterCount: estimate['loraParameterCount'],
    breakdown: answer['breakdown'].map((part: unknown) =>
      isObj(part) ? { label: part['label'], bytes: part['bytes'] } : part,
    ),
  };
  return isMemoryView(view) ? view : null;
}

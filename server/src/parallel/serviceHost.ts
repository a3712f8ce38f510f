// What the language service hands the Node host to run elsewhere: exact token counts of a large open
// dataset on worker threads (ServiceHost.lineCounter).
import type { ServiceHost } from '../core/service';
import { WORKER_BATCH_LINES, workerLineCounter } from './exactCounts';
import { defaultJobs } from './lintFile';

export function nodeServiceHost(): ServiceHost {
  return {
    async lineCounter(options) {
      const jobs = defaultJobs();
      if (jobs <= 1) return undefined;
      const workers = await workerLineCounter(options, jobs);
      return workers && { ...workers, batchLines: WORKER_BATCH_LINES };
    },
  };
}

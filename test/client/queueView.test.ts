// The visible queue on the client side: queue positions and placements folded from summaries and
// `launched` events, and how the jobs view and dashboard put them in words.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeJob, describePlacement } from '../../client/src/jobs/describe';
import { JobTracker } from '../../client/src/trainer/jobTracker';
import { checkServerFrame } from '../../client/src/trainer/protocol';
import type { JobSummary } from '../../client/src/trainer/protocol';

function summary(over: Partial<JobSummary>): JobSummary {
  return {
    job_id: 'j1',
    state: 'queued',
    reason: null,
    created: 1,
    name: 'run',
    base_model: 'builtin:tiny-llama',
    method: 'lora',
    last_seq: 0,
    ...over,
  };
}

describe('the visible queue', () => {
  it('shows a queued job with its position, and where a running one was placed', () => {
    const tracker = new JobTracker('local');
    const queued = tracker.applySummary(summary({ queue_position: 1 }));
    assert.equal(queued.queuePosition, 1);
    assert.equal(describeJob(queued), 'queued #2');

    tracker.applyEvent('j1', 0, { type: 'queued', time: 1, name: 'run', base_model: 'm', method: 'lora' });
    tracker.applyEvent('j1', 1, {
      type: 'launched',
      time: 2,
      executor: 'ray',
      submission_id: 'modelfactory-j1-abc',
      node: null,
      gpus: [],
      status: 'PENDING',
    });
    const pending = tracker.get('j1')!;
    assert.equal(pending.state, 'running');
    assert.equal(pending.queuePosition, null, 'a launched job has left the queue');
    assert.equal(describeJob(pending), 'waiting for cluster resources');

    const placed = tracker.applySummary(
      summary({
        state: 'running',
        last_seq: 1,
        queue_position: null,
        placement: { executor: 'ray', node: 'gpu-node-3', gpus: ['0', '1'], status: 'RUNNING' },
      }),
    );
    assert.equal(describePlacement(placed), 'ray on gpu-node-3 · GPU 0,1 (running)');
    assert.match(describeJob(placed), /gpu-node-3$/);
  });

  it('reads a local placement and a run saved before placements existed', () => {
    const tracker = new JobTracker('local');
    tracker.applyEvent('j2', 0, { type: 'queued', time: 1, name: 'run', base_model: 'm', method: 'lora' });
    tracker.applyEvent('j2', 1, { type: 'launched', time: 2, pid: 42, executor: 'local', node: 'box', gpus: [] });
    assert.equal(describePlacement(tracker.get('j2')!), 'local on box · no GPU');
    const old = { ...tracker.get('j2')!, placement: undefined, queuePosition: undefined, state: 'queued' as const };
    assert.equal(describePlacement(old as never), '');
    assert.equal(describeJob(old as never), 'queued');
  });

  it('accepts the new summary fields and launched events through the schema, and refuses bad ones', () => {
    const good = checkServerFrame({
      type: 'job_list',
      id: 'q1',
      jobs: [summary({ queue_position: 0, placement: { executor: 'local', node: 'box', gpus: [], processes: 1 } })],
    });
    assert.ok('frame' in good, JSON.stringify(good));
    const bad = checkServerFrame({
      type: 'job_list',
      id: 'q1',
      jobs: [summary({ placement: { executor: 'slurm', node: 'box', gpus: [] } as never })],
    });
    assert.ok('problem' in bad);
    const ray = checkServerFrame({
      type: 'event',
      job_id: 'j1',
      seq: 1,
      event: { type: 'launched', time: 2, executor: 'ray', submission_id: 's', node: null, gpus: [] },
    });
    assert.ok('frame' in ray, JSON.stringify(ray));
  });
});

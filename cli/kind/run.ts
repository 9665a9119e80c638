/** Runs a plan's steps in order, output shown; stops at the first failure with the step that failed. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeStep, type Step } from './plan';

export class StepFailed extends Error {
  readonly code = 'MAST_KIND_STEP_FAILED';
}

const INSTALL: Record<string, string> = {
  kind: 'install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation',
  kubectl: 'install kubectl: https://kubernetes.io/docs/tasks/tools/',
  docker: 'install docker, podman or buildah',
  podman: 'install docker, podman or buildah',
  buildah: 'install docker, podman or buildah',
};

export function runSteps(steps: readonly Step[], log: (line: string) => void = console.log): void {
  steps.forEach((step, i) => {
    log(`[${i + 1}/${steps.length}] ${step.why}: ${describeStep(step)}`);
    if ('write' in step) {
      mkdirSync(dirname(step.write), { recursive: true });
      writeFileSync(step.write, step.content);
      return;
    }
    const r = spawnSync(step.run[0], step.run.slice(1), { stdio: 'inherit', env: { ...process.env, ...step.env } });
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      throw new StepFailed(
        `${step.run[0]} is not installed (${INSTALL[step.run[0]] ?? 'install it'}); step ${i + 1} (${step.why}) could not run`,
      );
    if (r.error || r.status !== 0)
      throw new StepFailed(`step ${i + 1} failed (${step.why}): ${describeStep(step)} → ${r.error?.message ?? `exit ${r.status}`}`);
  });
}

/**
 * The transfer tasks of the accuracy study: pretrain on the desktop (float32) on one
 * task, fine-tune on the device on another, with a fixed small on-device training set
 * (what a device would have collected) and the whole test set of the new task.
 */
import { filterClasses, loadDataset, takeFirst, type Dataset } from '../../host/data/dataset.js';

export type TaskId = 'digits' | 'fashion';
export const TASK_IDS: readonly TaskId[] = ['digits', 'fashion'];

export interface Task {
  id: TaskId;
  title: string;
  source: Dataset;
  device: Dataset;
  test: Dataset;
}

export function loadTask(id: TaskId, deviceSamples: number): Task {
  const mnistTrain = loadDataset('mnist', 'train');
  if (id === 'digits') {
    const lo = [0, 1, 2, 3, 4];
    const hi = [5, 6, 7, 8, 9];
    return {
      id,
      title: 'MNIST digits 0-4 -> digits 5-9',
      source: filterClasses(mnistTrain, lo),
      device: takeFirst(filterClasses(mnistTrain, hi), deviceSamples),
      test: filterClasses(loadDataset('mnist', 'test'), hi),
    };
  }
  return {
    id,
    title: 'MNIST (10 digits) -> Fashion-MNIST (10 classes)',
    source: mnistTrain,
    device: takeFirst(loadDataset('fashion-mnist', 'train'), deviceSamples),
    test: loadDataset('fashion-mnist', 'test'),
  };
}

export { MetricsAccumulator, type ValidationMetrics } from './accumulator.js';
export { accuracy, accuracyCount } from './accuracy.js';
export { LOG_LOSS_EPS, logLoss, logLossSum } from './log-loss.js';
export { rocAuc } from './roc-auc.js';

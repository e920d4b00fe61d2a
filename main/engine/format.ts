/**
 * The formatting lives in main/shared/ (pure, no Node, no DOM) so the renderer can use the same code;
 * the engine and the CLI keep importing it from here.
 */
export { formatBytes, formatDuration, formatRate } from '../shared/format';
